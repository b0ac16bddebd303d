"""Stand-ins for Encord Active's ``Prediction`` models, at their real import paths.

``encord-active`` does not install here (and nothing in predport may depend on it), so
the fixtures are pickled from modules that redeclare its prediction models field for
field, in the same order, with the same types, defaults, validators and ``Config``, on
pydantic v1 as every release pinned (``pydantic = "^1.10.2"``). A pickle records only
the class's module and name and the instance state (``__dict__``, ``__fields_set__``,
``__private_attribute_values__``), so pickles of these stand-ins are byte for byte what
the real package writes for the same values.

Sources (``encord-team/encord-active``, Apache-2.0), one schema each:

* ``v0.1.13`` — ``src/encord_active/app/db/predictions.py`` at tag v0.1.13
  (84cebda682f62398d84c0f1071ff83657d54329e); the same schema to v0.1.16 (whose only
  change is the mask validator): flat ``Prediction(data_hash, frame, class_id,
  confidence, format, data, track_id)``, ``BoundingBox(x, y, h, w)``.
* ``v0.1.17`` — the same models moved to ``src/encord_active/lib/db/predictions.py``
  (tag v0.1.17, blob c87b07ab; unchanged in the models through v0.1.32,
  bbd2c9c46ca3851509545ef6119be46fdfe700ca).
* ``v0.1.33`` — the nested schema from tag v0.1.33 (2f055757ad7b4d35b0e27701470417bc75d32092)
  to v0.1.84 (f448d9f3371d7c16f9bd50f361863dc919b1e73b): ``Prediction(data_hash,
  frame, confidence, object, classification)``, ``ObjectDetection(format, data,
  feature_hash, track_id)``, ``BoundingBox(x, y, h, w, theta)``,
  ``FrameClassification(feature_hash, attribute_hash, option_hash)`` (frozen). The
  text follows v0.1.70 (validators with ``allow_reuse``; v0.1.33–34 differ only there).

The real modules import more (the Encord SDK, metric runners) for their
``import_predictions`` function, which a pickle never names; it is left out.
"""
from __future__ import annotations

from pathlib import Path

# pydantic v1 itself (the generator's venv) or pydantic 2's bundled copy of v1
# (``pydantic.v1``, the same code) — the models are v1 models either way.
_IMPORTS = '''\
import json
from enum import Enum
from typing import Annotated, NamedTuple, Optional, Union

import numpy as np

try:
    from pydantic.v1 import BaseModel, Field, root_validator, validator
except ImportError:  # pydantic 1.10 before .v1 existed
    from pydantic import BaseModel, Field, root_validator, validator

RelativeFloat = Annotated[float, Field(ge=0, le=1)]
'''

_FORMAT = '''

class Format(str, Enum):
    BOUNDING_BOX = "bounding-box"
    MASK = "mask"
    POLYGON = "polygon"
'''

_POINT = '''

class Point(NamedTuple):
    x: RelativeFloat
    y: RelativeFloat
'''

_DATA_VALIDATORS = '''
    @validator("data", pre=True{reuse})
    def transform(v):  # pylint: disable=no-self-argument
        if isinstance(v, str):
            v = json.loads(v)
        if isinstance(v, list):
            v = np.array(v)

        return v

    @validator("data"{reuse})
    def format_and_data_valid(cls, v, values):  # pylint: disable=no-self-argument
        format = values.get("format")
        if format == Format.BOUNDING_BOX:
            assert v.x + v.w <= 1 and v.y + v.h <= 1, f"{{v}} is not a valid relative bounding box."
        elif format == Format.MASK:
            uni = set(np.unique(v))
            assert (uni - {{0, 1}}) == set()
        elif format == Format.POLYGON:
            if isinstance(v, np.ndarray):
                assert np.all(np.logical_and(v >= 0.0, v <= 1.0)), "`data` contains an invalid point."

        else:
            raise ValueError("Invalid format")

        return v

    class Config:
        arbitrary_types_allowed = True
        json_encoders = {{np.ndarray: lambda v: json.dumps(v.tolist())}}
'''

FLAT = _IMPORTS + _FORMAT + '''

class BoundingBox(BaseModel):
    x: RelativeFloat
    y: RelativeFloat
    h: RelativeFloat
    w: RelativeFloat
''' + _POINT + '''

class Prediction(BaseModel):
    data_hash: str
    frame: Optional[int] = 0
    class_id: str
    confidence: float
    format: Format
    data: Union[BoundingBox, np.ndarray]
    track_id: Optional[Union[str, int]] = None
''' + _DATA_VALIDATORS.format(reuse="")

NESTED = _IMPORTS + '''DegreeFloat = Annotated[float, Field(ge=0, le=360)]
''' + _FORMAT + '''

class BoundingBox(BaseModel):
    x: RelativeFloat
    y: RelativeFloat
    h: RelativeFloat
    w: RelativeFloat
    theta: DegreeFloat = 0.0
''' + _POINT + '''

class ObjectDetection(BaseModel):
    format: Format
    data: Union[BoundingBox, np.ndarray]
    feature_hash: str
    track_id: Optional[Union[str, int]] = None
''' + _DATA_VALIDATORS.format(reuse=", allow_reuse=True") + '''

class FrameClassification(BaseModel):
    feature_hash: str
    attribute_hash: str
    option_hash: str

    class Config:
        frozen = True


class Prediction(BaseModel):
    data_hash: str
    frame: Optional[int] = 0
    confidence: float
    object: Optional[ObjectDetection] = None
    classification: Optional[FrameClassification] = None

    @root_validator(pre=True, allow_reuse=True)
    def one_of_object_classification(cls, values):  # pylint: disable=no-self-argument
        object_ = values.get("object")
        classification = values.get("classification")
        exactly_one_of = (object_ and not classification) or (classification and not object_)
        assert exactly_one_of, 'Prediction must have exactly one "object" or "classification"'
        return values
'''

#: variant -> (module path, module source, releases that wrote it)
VARIANTS = {
    "v0.1.13": ("encord_active.app.db.predictions", FLAT, "v0.1.13-v0.1.16"),
    "v0.1.17": ("encord_active.lib.db.predictions", FLAT, "v0.1.17-v0.1.32"),
    "v0.1.33": ("encord_active.lib.db.predictions", NESTED, "v0.1.33-v0.1.84"),
}


def install(root: Path, variant: str) -> str:
    """Write the stand-in package of ``variant`` under ``root`` (put ``root`` on
    ``sys.path`` to import it); returns the module path."""
    module, source, _ = VARIANTS[variant]
    parts = module.split(".")
    folder = Path(root)
    for part in parts[:-1]:
        folder = folder / part
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "__init__.py").touch()
    (folder / f"{parts[-1]}.py").write_text(source)
    return module
