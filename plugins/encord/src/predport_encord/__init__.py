"""predport plugin for Encord Active prediction records (JSON and JSON Lines).

The records follow Encord Active's ``Prediction`` model (``data_hash``, ``frame``,
``confidence``, and one ``object`` or ``classification``); coordinates in the file
are normalised to [0, 1], in predport they are pixels. Encord Active's
``predictions.pkl`` is read by a restricted unpickler (``unpickle``) that runs nothing.
"""
__version__ = "0.1.0"
