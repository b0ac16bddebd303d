#!/usr/bin/env python3
"""Regenerate the Aquarium inference-frame fixtures with the real client.

Usage:
    python plugins/aquarium/tools/make_fixtures.py [--out DIR] [--python EXE] [--keep-venvs]

For each client generation this makes a throwaway venv in a temp dir, installs
that exact `aquariumlearning` release from PyPI, and runs a child script
(`_aq_child_legacy.py` / `_aq_child_v1.py`, next to this file) inside the venv.
The child builds frames with every inference method/class of that generation
and has the client serialise them through its own upload path; the JSON Lines
it would upload are copied unchanged into DIR:

    legacy_0.0.67.jsonl   aquariumlearning 0.0.67 (InferencesFrame.add_inference_*)
    v1_1.0.7.jsonl        aquariumlearning 1.0.7  (InferenceFrame + *Inference)
    masks/*.png           PNGs that the mask_url rows point at (relative to DIR)

DIR defaults to plugins/aquarium/tests/data. Needs network access to PyPI
only; the children themselves run with networking disabled. Output is
deterministic: ids, values and the client's clock are fixed (see
_aq_child_common.py). This script uses the standard library only, so any
Python 3.8+ can run it; the venvs use --python (default python3.11).
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

TOOLS_DIR = Path(__file__).resolve().parent
DEFAULT_OUT = TOOLS_DIR.parent / "tests" / "data"

# Versions of the client's dependencies, fixed so a rerun installs the same
# stack. Chosen as the newest releases that both 2022/2023 clients still run
# on under Python 3.11:
#  * urllib3 < 2: both clients build `Retry(method_whitelist=...)` at import
#    time, a keyword urllib3 2.0 removed (import fails with TypeError).
#  * pyarrow 17: 0.0.67 writes its mask-asset Arrow file with
#    `pa.ipc.new_file(..., use_legacy_format=False)`, which recent pyarrow
#    (26.x) no longer accepts; the legacy upload path dies on it.
#  * numpy 1.x / pandas 2.2 match that pyarrow and the client era.
#  * google-cloud-storage 1.x: the clients need google-resumable-media < 2,
#    and leaving GCS open makes pip backtrack through dozens of releases.
PINS = [
    "numpy==1.26.4",
    "pandas==2.2.3",
    "pyarrow==17.0.0",
    "scikit-learn==1.5.2",
    "joblib==1.4.2",
    "pillow==11.0.0",
    "urllib3==1.26.20",
    "google-resumable-media==1.3.3",
    "google-cloud-storage==1.44.0",
]

# 0.0.67's own requirements (from the wheel's METADATA) plus its `img` extra
# (Pillow, needed for mask_data) -- except `joblib==0.17.0`. That pin cannot
# be met on Python 3.11 together with `scikit-learn`: every scikit-learn with
# a cp311 wheel needs joblib >= 1.0, and the older ones fail to build from
# source. The client only touches joblib/sklearn in its sampling code, never
# while building or serialising frames, and 1.0.x itself demoted the pin to an
# optional extra. So the client is installed with --no-deps and these are
# installed next to it; pip will warn about the joblib pin, which is expected.
LEGACY_REQUIREMENTS = [
    "requests>=2.23.0",
    "pyarrow>=0.17.1",
    "pandas>=1.1.4",
    "numpy>=1.18.5",
    "google-resumable-media>=1.2.0,<2.0dev",
    "tqdm>=4.43.0",
    "termcolor>=1.1.0",
    "bs4==0.0.1",
    "importlib-metadata>=2.0.0",
    "typing-extensions>=3.7.4.3",
    "google-cloud-storage>=1.35.1",
    "joblib",
    "scikit-learn",
    "dill",
    "pillow>=8.1.0",
]

GENERATIONS = [
    {
        "name": "legacy",
        "version": "0.0.67",
        "child": "_aq_child_legacy.py",
        "output": "legacy_0.0.67.jsonl",
        "install_steps": [
            ["--no-deps", "aquariumlearning==0.0.67"],
            LEGACY_REQUIREMENTS,
        ],
        "writes_masks": True,
    },
    {
        "name": "v1",
        "version": "1.0.7",
        "child": "_aq_child_v1.py",
        "output": "v1_1.0.7.jsonl",
        # 1.0.7's metadata resolves cleanly; only urllib3 needs capping (PINS).
        "install_steps": [["aquariumlearning==1.0.7"]],
        "writes_masks": False,
    },
]

# Mask PNGs the legacy child writes, and the one that must stay missing.
EXPECTED_MASKS = ["frame_0002_semseg.png", "frame_0002_instances.png"]
MISSING_MASK = "frame_0005_semseg.png"


def run(cmd, *, env=None, log_path=None):
    """Run a command; on failure show its output and stop."""
    result = subprocess.run(
        cmd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    if log_path is not None:
        with open(log_path, "a", encoding="utf-8") as log:
            log.write(f"$ {' '.join(map(str, cmd))}\n{result.stdout}\n")
    if result.returncode != 0:
        sys.stderr.write(result.stdout)
        raise SystemExit(f"command failed ({result.returncode}): {' '.join(map(str, cmd))}")
    return result.stdout


def child_env(work_dir):
    """Environment for code running inside a throwaway venv."""
    env = dict(os.environ)
    # Nothing from the caller's environment may leak into the venv's imports.
    for var in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "PYTHONSTARTUP"):
        env.pop(var, None)
    env.update(
        # The client makes temp dirs at import and while flushing; keep them
        # inside our scratch dir so they vanish with it.
        TMPDIR=str(work_dir),
        # The child scripts live in the repo; don't leave __pycache__ there.
        PYTHONDONTWRITEBYTECODE="1",
        PYTHONHASHSEED="0",
        PYTHONNOUSERSITE="1",
        PIP_DISABLE_PIP_VERSION_CHECK="1",
    )
    return env


def make_generation(gen, python, out_dir, keep):
    scratch = Path(tempfile.mkdtemp(prefix=f"aq-fixtures-{gen['name']}-"))
    print(f"== aquariumlearning {gen['version']} ({gen['name']}) in {scratch}", flush=True)
    try:
        venv = scratch / "venv"
        work = scratch / "tmp"
        work.mkdir()
        log_path = scratch / "install.log"
        env = child_env(work)

        run([python, "-m", "venv", str(venv)], env=env, log_path=log_path)
        vpy = venv / "bin" / "python"
        pins = scratch / "pins.txt"
        pins.write_text("\n".join(PINS) + "\n", encoding="utf-8")
        for step in gen["install_steps"]:
            run([str(vpy), "-m", "pip", "install", "-q", "-c", str(pins), *step], env=env, log_path=log_path)
        version = run(
            [str(vpy), "-c", "import importlib.metadata as m; print(m.version('aquariumlearning'))"],
            env=env,
        ).strip()
        if version != gen["version"]:
            raise SystemExit(f"expected aquariumlearning {gen['version']}, venv has {version}")

        out_file = out_dir / gen["output"]
        cmd = [str(vpy), str(TOOLS_DIR / gen["child"]), str(out_file)]
        if gen["writes_masks"]:
            cmd.append(str(out_dir / "masks"))
        # Child output (what the client accepted/refused) goes straight to
        # the console: it is the evidence behind tests/data/README.md.
        result = subprocess.run(cmd, env=env, cwd=str(scratch))
        if result.returncode != 0:
            raise SystemExit(f"child for {gen['name']} failed ({result.returncode})")
        return out_file
    finally:
        if keep:
            print(f"   kept {scratch}", flush=True)
        else:
            shutil.rmtree(scratch, ignore_errors=True)


def check_outputs(out_dir, files):
    """Sanity-check what the children wrote, and summarise it."""
    for path in files:
        lines = path.read_text(encoding="utf-8").splitlines()
        if not lines:
            raise SystemExit(f"{path} is empty")
        print(f"-- {path.name}: {len(lines)} frames", flush=True)
        for line in lines:
            row = json.loads(line)
            types = [inf["label_type"] for inf in row["inference_data"]]
            print(f"   {row['task_id']} change={row.get('change')} {types}", flush=True)
    masks = out_dir / "masks"
    for name in EXPECTED_MASKS:
        if not (masks / name).is_file():
            raise SystemExit(f"missing mask PNG {masks / name}")
    if (masks / MISSING_MASK).exists():
        raise SystemExit(f"{masks / MISSING_MASK} must not exist: the fixtures use it as an unresolved mask")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"output directory (default: {DEFAULT_OUT})")
    parser.add_argument("--python", default="python3.11", help="interpreter used to create the venvs (default: python3.11)")
    parser.add_argument("--keep-venvs", action="store_true", help="keep the scratch venvs for debugging")
    args = parser.parse_args(argv)

    out_dir = args.out.resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    written = [make_generation(gen, args.python, out_dir, args.keep_venvs) for gen in GENERATIONS]
    check_outputs(out_dir, written)


if __name__ == "__main__":
    main()
