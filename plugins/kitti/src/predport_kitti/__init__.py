"""predport plugin for KITTI object-detection labels and results (format id ``kitti``)."""

__version__ = "0.1.0"
