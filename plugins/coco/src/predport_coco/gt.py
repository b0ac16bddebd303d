"""COCO ground truth (or the ``images``/``categories`` of a results dataset dict).

The reader uses it for frame data ids (``file_name``), image sizes and category
names; the writer uses it to map data ids back to COCO image ids.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import predport

#: Category keys kept in ``Category.attributes`` (the rest of a GT category is dropped).
CATEGORY_ATTRIBUTES = ("supercategory", "keypoints", "skeleton")


@dataclass
class GroundTruth:
    """Images by id (``file_name``, ``width``, ``height``) and the category list."""

    origin: str
    images: dict[Any, tuple[str | None, int | None, int | None]] = field(default_factory=dict)
    categories: list[tuple[int, str, dict[str, Any]]] = field(default_factory=list)
    #: Written by predport's COCO writer beside a results list (option ``categories``): its
    #: images without results are frames without predictions, not images the model skipped.
    companion: bool = False
    _by_name: dict[str, Any] | None = None

    def image(self, image_id: Any) -> tuple[str | None, int | None, int | None] | None:
        """The GT image of a results ``image_id``; ``"42"`` and ``42`` name the same image."""
        found = self.images.get(image_id)
        if found is None:
            if isinstance(image_id, str) and image_id.isdigit():
                found = self.images.get(int(image_id))
            elif isinstance(image_id, int):
                found = self.images.get(str(image_id))
        return found

    def image_id_for(self, data_id: str) -> Any:
        """The GT image id whose ``file_name`` is ``data_id`` (full name, then base name, then stem)."""
        if self._by_name is None:
            index: dict[str, Any] = {}
            for iid, (name, _, _) in self.images.items():
                if not name:
                    continue
                norm = name.replace("\\", "/")
                base = norm.rsplit("/", 1)[-1]
                for key in (norm, base, base.rsplit(".", 1)[0]):
                    index.setdefault(key, iid)
            self._by_name = index
        norm = data_id.replace("\\", "/")
        base = norm.rsplit("/", 1)[-1]
        for key in (norm, base, base.rsplit(".", 1)[0]):
            if key in self._by_name:
                return self._by_name[key]
        return None

    def category_names(self) -> dict[int, str]:
        return {cid: name for cid, name, _ in self.categories}


#: ``info.description`` of the companion file predport's COCO writer writes (option ``categories``).
COMPANION_DESCRIPTION = "predport: images and categories of a COCO results file"


def _positive_int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


def from_document(
    doc: Mapping[str, Any], *, origin: str, error: type[predport.PredportError] = predport.ConfigError
) -> GroundTruth:
    """Read ``images`` and ``categories`` of a COCO dataset dict; a bad entry raises ``error``
    (a ConfigError for a GT file the user names, a ParseError for a results dataset dict)."""
    gt = GroundTruth(origin=origin)
    info = doc.get("info")
    gt.companion = isinstance(info, dict) and info.get("description") == COMPANION_DESCRIPTION
    images = doc.get("images") or []
    cats = doc.get("categories") or []
    if not isinstance(images, list) or not isinstance(cats, list):
        raise error("'images' and 'categories' must be lists", file=origin, json_path="$")
    for i, im in enumerate(images):
        if not isinstance(im, dict) or type(im.get("id")) not in (int, str):
            raise error("an image needs an integer or string 'id'", file=origin, json_path=["images", i], field="id")
        name = im.get("file_name")
        gt.images[im["id"]] = (
            name if isinstance(name, str) and name else None,
            _positive_int(im.get("width")),
            _positive_int(im.get("height")),
        )
    for i, c in enumerate(cats):
        cid = c.get("id") if isinstance(c, dict) else None
        if not isinstance(cid, int) or isinstance(cid, bool):
            raise error("a category needs an integer 'id'", file=origin, json_path=["categories", i], field="id")
        name = c.get("name")
        name = name if isinstance(name, str) and name else str(cid)
        attrs = {k: c[k] for k in CATEGORY_ATTRIBUTES if k in c}
        gt.categories.append((cid, name, attrs))
    return gt


def load(path: str | Path) -> GroundTruth:
    """Load a COCO ground-truth file given with option ``gt``."""
    import orjson

    p = Path(path)
    try:
        doc = orjson.loads(p.read_bytes())
    except OSError as exc:
        raise predport.ConfigError(f"cannot read the ground-truth file: {exc.strerror or exc}", file=str(p)) from None
    except orjson.JSONDecodeError as exc:
        raise predport.ConfigError(f"ground-truth file is not valid JSON: {exc}", file=str(p)) from None
    if not isinstance(doc, dict) or not ("images" in doc or "categories" in doc):
        raise predport.ConfigError("not a COCO ground-truth file (no 'images' or 'categories')", file=str(p),
                                   json_path="$")
    return from_document(doc, origin=str(p))
