"""predport plugin for Lightly prediction folders (``.lightly/predictions``)."""

__version__ = "0.1.0"
