"""predport-masks: PNG class-index masks (Encord Active's mask predictions) for predport."""

__version__ = "0.1.0"
