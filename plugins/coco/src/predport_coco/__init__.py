"""predport-coco: COCO results JSON for predport (read and write)."""

__version__ = "0.1.0"
