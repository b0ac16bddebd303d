"""predport-yolo: YOLO detection and segmentation label files (normalised), read and write."""

__version__ = "0.1.0"
