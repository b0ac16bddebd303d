"""Files ``predport evaluate`` writes besides its report: tables (CSV, JSON Lines) and plots (PNG)."""
from __future__ import annotations

import csv
import io
import json
import math
import os
import tempfile
from pathlib import Path
from typing import Any, Iterable, Sequence

import predport


def _atomic_write(path: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same folder: all or nothing."""
    p = Path(path)
    try:
        p.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", dir=p.parent)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            os.replace(tmp, p)
        except BaseException:
            os.unlink(tmp)
            raise
    except OSError as exc:
        raise predport.OutputError(f"cannot write: {exc.strerror or exc}", file=str(p)) from None


def write_table(path: str | os.PathLike[str], rows: Iterable[dict[str, Any]], columns: Sequence[str]) -> None:
    """Rows as CSV (header line) or JSON Lines, by the file's suffix."""
    rows = rows if isinstance(rows, list) else list(rows)
    write_columns(path, {c: [r.get(c) for r in rows] for c in columns})


def write_columns(path: str | os.PathLike[str], table: dict[str, list[Any]]) -> None:
    """Columns of equal length as CSV (header line) or JSON Lines, by the file's suffix."""
    columns = list(table)
    cols = list(table.values())
    if str(path).lower().endswith(".jsonl"):
        cells = [_json_cells(col) for col in cols]
        keys = [json.dumps(c) + ": " for c in columns]
        parts = []
        for row in zip(*cells):
            parts.append("{" + ", ".join(k + v for k, v in zip(keys, row)) + "}\n")
        data = "".join(parts).encode()
    else:
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(columns)
        w.writerows(zip(*[["" if v is None else v for v in col] for col in cols]))
        data = buf.getvalue().encode()
    _atomic_write(path, data)


def _json_cells(values: list[Any]) -> list[str]:
    """Each value as JSON text (strings repeat, as data ids do: encoded once each)."""
    seen: dict[Any, str] = {}
    out = []
    for v in values:
        if v is None:
            out.append("null")
        elif v is True or v is False:
            out.append("true" if v else "false")
        elif isinstance(v, int):
            out.append(str(v))
        elif isinstance(v, float):
            out.append(repr(v) if math.isfinite(v) else "null")
        elif isinstance(v, str):
            text = seen.get(v)
            if text is None:
                text = seen[v] = json.dumps(v)
            out.append(text)
        else:
            out.append(json.dumps(v))
    return out


def _safe(name: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in name) or "class"


def write_plots(folder: str | os.PathLike[str], result: Any) -> list[Path]:
    """PR curves per class (``pr_<class>.png``) and the confusion matrix (``confusion.png``)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise predport.ConfigError("--plots needs matplotlib", hint="pip install 'predport-eval[plots]'") from None
    out = Path(folder)
    written: list[Path] = []

    def save(fig: Any, name: str) -> None:
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=100)
        plt.close(fig)
        _atomic_write(out / name, buf.getvalue())
        written.append(out / name)

    for name, curve in result.pr_curves.items():
        fig, ax = plt.subplots(figsize=(4, 4))
        ax.plot(curve["recall"], curve["precision"])
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1.02)
        ax.set_xlabel("recall")
        ax.set_ylabel("precision")
        ax.set_title(f"{name} (IoU {curve['iou']})")
        fig.tight_layout()
        save(fig, f"pr_{_safe(name)}.png")
    if result.confusion is not None:
        import numpy as np

        cm = np.array(result.confusion.matrix)
        n = len(result.confusion.labels)
        fig, ax = plt.subplots(figsize=(max(4, 0.35 * n + 2), max(4, 0.35 * n + 2)))
        ax.imshow(np.log1p(cm), cmap="Blues")
        ax.set_xticks(range(n), result.confusion.labels, rotation=90, fontsize=7)
        ax.set_yticks(range(n), result.confusion.labels, fontsize=7)
        ax.set_xlabel("predicted")
        ax.set_ylabel("ground truth")
        if n <= 20:
            for i in range(n):
                for j in range(n):
                    if cm[i, j]:
                        ax.text(j, i, str(cm[i, j]), ha="center", va="center", fontsize=7)
        fig.tight_layout()
        save(fig, "confusion.png")
    return written
