"""predport plugin for Aquarium (``aquariumlearning``) inference frames: JSON Lines or a JSON array."""

__version__ = "0.1.0"
