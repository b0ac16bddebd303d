"""Malicious and broken pickles: each is refused with its reason, and nothing in it runs.

Every payload here writes a marker file when it runs; the ``*_payload_is_live`` tests
unpickle the same bytes with the real unpickler to show the marker then appears, so
"no marker" after predport read the file means "nothing ran".
"""
from __future__ import annotations

import pickle
import struct
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import predport

PICKLES = Path(__file__).parent / "data" / "pickles"
SIZES = PICKLES / "sizes.json"
SEED = (PICKLES / "v0.1.33-numpy2-p4.pkl").read_bytes()
SEED2 = (PICKLES / "v0.1.17-numpy1-p2.pkl").read_bytes()


# -- a small pickle assembler --------------------------------------------------------------
def s(text: str) -> bytes:
    b = text.encode()
    return b"\x8c" + bytes([len(b)]) + b if len(b) < 256 else b"X" + struct.pack("<I", len(b)) + b


def arg(obj: object) -> bytes:
    """A plain value (str, list, bytes) as opcodes, without PROTO, FRAME or STOP."""
    return pickle.dumps(obj, protocol=2)[2:-1]


def glob(module: str, name: str, *, text: bool = False) -> bytes:
    if text:  # GLOBAL, as protocols 0-3 write it
        return b"c" + module.encode() + b"\n" + name.encode() + b"\n"
    return s(module) + s(name) + b"\x93"  # STACK_GLOBAL, as protocols 4-5 write it


def call(fn: bytes, *args: bytes) -> bytes:
    return fn + b"(" + b"".join(args) + b"tR"  # MARK args TUPLE REDUCE


def stream(body: bytes, protocol: int = 4) -> bytes:
    return b"\x80" + bytes([protocol]) + body + b"."


def payloads(marker: Path, tmp: Path) -> dict[str, tuple[str, bytes]]:
    """name -> (the global predport must name, a pickle that creates ``marker`` when run)."""
    m = str(marker)
    code = f"open({m!r}, 'w').write('ran')"
    mod = tmp / "evil_module_for_predport_test.py"
    mod.write_text(code + "\n")
    text = {
        "os.system": ("os.system", call(glob("os", "system", text=True), arg(f"touch {m}")), 2),
        "posix.system": ("posix.system", call(glob("posix", "system"), arg(f"touch {m}")), 4),
        "builtins.exec": ("builtins.exec", call(glob("builtins", "exec"), arg(code)), 4),
        "builtins.eval": ("builtins.eval", call(glob("builtins", "eval"), arg(code)), 4),
        "__builtin__.eval": ("__builtin__.eval", call(glob("__builtin__", "eval", text=True), arg(code)), 2),
        "subprocess.check_call": ("subprocess.check_call",
                                  call(glob("subprocess", "check_call"), arg(["touch", m])), 4),
        "subprocess.Popen": ("subprocess.Popen", call(glob("subprocess", "Popen"), arg(["touch", m])), 4),
        "importlib.import_module": ("importlib.import_module",
                                    call(glob("importlib", "import_module"), arg(mod.stem)), 4),
        "runpy.run_path": ("runpy.run_path", call(glob("runpy", "run_path"), arg(str(mod))), 4),
        "pickle.loads": ("pickle.loads", call(glob("pickle", "loads"),
                                              arg(stream(call(glob("posix", "system"), arg(f"touch {m}"))))), 4),
        # numpy's and pydantic's less obvious ways to run code
        "numpy runstring": ("numpy.testing._private.utils.runstring",
                            call(glob("numpy.testing._private.utils", "runstring"), arg(code), b"}"), 4),
        "pydantic import_string": ("pydantic.v1.utils.import_string",
                                   call(call(glob("pydantic.v1.utils", "import_string"), arg("posix.system")),
                                        arg(f"touch {m}")), 4),
    }
    return {k: (name, stream(body, protocol)) for k, (name, body, protocol) in text.items()}


@pytest.fixture
def evil(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    marker = tmp_path / "executed.marker"
    monkeypatch.syspath_prepend(str(tmp_path))  # so the import_module payload would find its module
    return marker, payloads(marker, tmp_path)


def write(tmp_path: Path, data: bytes, name: str = "predictions.pkl") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def refused(path: Path, match: str, **kw) -> predport.ParseError:
    with pytest.raises(predport.ParseError, match=match) as exc:
        predport.load(path, format="encord", image_sizes=SIZES, **kw)
    assert exc.value.file == str(path)
    return exc.value


PAYLOAD_NAMES = sorted(payloads(Path("m"), Path("/tmp")))  # names only; built per test


@pytest.mark.parametrize("name", PAYLOAD_NAMES)
def test_pickle__payload_is_refused_naming_the_global_and_runs_nothing(name, evil, tmp_path):
    marker, table = evil
    global_name, data = table[name]
    path = write(tmp_path, data)
    err = refused(path, "refused global")
    assert global_name in err.message
    assert not marker.exists()
    # Detection says why, without unpickling either.
    vote = [v for v in predport.detect(path) if v.format == "encord"][0]
    assert vote.confidence == predport.Confidence.NO and "Python pickle" in vote.reason
    with pytest.raises(predport.UnknownFormatError):
        predport.load(path)
    assert not marker.exists()


@pytest.mark.parametrize("name", PAYLOAD_NAMES)
def test_pickle__payload_is_live(name, evil, tmp_path):
    # Guards the test above: the real unpickler runs each payload.
    marker, table = evil
    result = pickle.loads(table[name][1])
    if hasattr(result, "wait"):  # subprocess.Popen
        result.wait()
    assert marker.exists()


@pytest.mark.parametrize("where", ["first", "after predictions", "as a field value"])
def test_pickle__payload_inside_a_real_pickle_is_refused(where, evil, tmp_path, standin):
    marker, table = evil
    mod = standin("v0.1.33")

    class Evil:
        def __reduce__(self):
            return (exec, (f"open({str(marker)!r}, 'w').write('ran')",))

    good = [mod.Prediction(data_hash="a", confidence=0.5, object=mod.ObjectDetection(
        feature_hash="f", format=mod.Format.BOUNDING_BOX, data=mod.BoundingBox(x=0, y=0, w=1, h=1)))] * 50
    if where == "first":
        preds = [Evil()] + good
    elif where == "after predictions":
        preds = good + [Evil()]
    else:
        p = mod.Prediction(data_hash="a", confidence=0.5, object=mod.ObjectDetection(
            feature_hash="f", format=mod.Format.BOUNDING_BOX, data=mod.BoundingBox(x=0, y=0, w=1, h=1)))
        object.__setattr__(p, "__dict__", {**p.__dict__, "data_hash": Evil()})
        preds = good + [p]
    for protocol in (2, 4, 5):
        path = write(tmp_path, pickle.dumps(preds, protocol=protocol))
        err = refused(path, "refused global")
        assert ("__builtin__.exec" if protocol == 2 else "builtins.exec") in err.message
    assert not marker.exists()


def test_pickle__text_global_is_refused_before_anything_is_built(evil, tmp_path):
    marker, table = evil
    data = SEED2[:-2] + table["os.system"][1][2:-1] + b"a."  # appended to the list, protocol 2
    path = write(tmp_path, data)
    err = refused(path, "refused global os.system")
    offset = int(err.message.rsplit("at byte ", 1)[1].rstrip(")"))
    assert data[offset:offset + 10] == b"cos\nsystem"  # the GLOBAL opcode itself
    assert not marker.exists()


@pytest.mark.parametrize("name, module", [
    ("copyreg._reconstructor", ("copyreg", "_reconstructor")),
    ("builtins.getattr", ("builtins", "getattr")),
    ("functools.partial", ("functools", "partial")),
    ("numpy.load", ("numpy", "load")),
    ("numpy.ma.core._mareconstruct", ("numpy.ma.core", "_mareconstruct")),
    ("numpy.core.multiarray.fromstring", ("numpy.core.multiarray", "fromstring")),
    ("pydantic.main.BaseModel", ("pydantic.main", "BaseModel")),
    ("pydantic.v1.main.validate_model", ("pydantic.v1.main", "validate_model")),
    ("encord_active.lib.db.predictions.import_predictions", ("encord_active.lib.db.predictions",
                                                            "import_predictions")),
    ("encord_active.lib.db.predictions.Prediction.parse_raw", ("encord_active.lib.db.predictions",
                                                              "Prediction.parse_raw")),
    ("encord_active.app.db.predictions.ObjectDetection", ("encord_active.app.db.predictions", "ObjectDetection")),
])
def test_pickle__any_other_global_is_refused_by_name(name, module, tmp_path):
    path = write(tmp_path, stream(call(glob(*module), arg("x"))))
    assert name in refused(path, "refused global").message


def test_pickle__allowed_reconstructors_refuse_what_their_real_pickles_never_hold(tmp_path):
    core = "numpy._core.multiarray"
    dtype_o = call(glob("numpy", "dtype"), arg("O8"), b"\x89\x88")
    cases = {  # why: (stream body, what the refusal says)
        "object dtype": (call(glob(core, "scalar"), dtype_o, arg(b"\0" * 8)),
                         r"numpy.dtype\('O8'\) is not a bool, integer, float or str dtype"),
        "structured dtype": (call(glob("numpy", "dtype"), arg("V16"), b"\x89\x88"), r"numpy.dtype\('V16'\)"),
        "reconstruct with another class": (call(glob(core, "_reconstruct"), glob("numpy", "dtype"), arg((0,)),
                                                arg(b"b")), "numpy _reconstruct called with other arguments"),
        "format value": (call(glob("encord_active.lib.db.predictions", "Format"), arg("exec")),
                         r"Format\('exec'\) is not an Encord Active format"),
        "set of lists": (call(glob("builtins", "set"), arg([[1]])), "set\\(\\) of anything but field names"),
        "codecs other than latin1": (call(glob("_codecs", "encode"), arg("x"), arg("rot13")),
                                     "_codecs.encode with other arguments"),
        "model with arguments": (glob("encord_active.lib.db.predictions", "Prediction") + b"(" + arg("x") + b"t\x81",
                                 "malformed pickle \\(TypeError"),
        "ndarray called": (call(glob("numpy", "ndarray"), arg((3,))), "numpy.ndarray called directly"),
    }
    for why, (body, says) in cases.items():
        path = write(tmp_path, stream(b"]" + body + b"a"), f"{why}.pkl")
        with pytest.raises(predport.ParseError, match=says) as exc:
            predport.load(path, format="encord")
        assert exc.value.file == str(path), why


def test_pickle__declared_array_size_is_capped_before_decoding(tmp_path):
    # _frombuffer of a 10**6 x 10**6 shape: refused by the element count, nothing allocated.
    dtype = call(glob("numpy", "dtype"), arg("f8"), b"\x89\x88")
    buf = b"\x96" + struct.pack("<Q", 16) + bytes(16)  # BYTEARRAY8, as protocol 5 writes array data
    body = call(glob("numpy._core.numeric", "_frombuffer"), buf, dtype, arg((10**6, 10**6)), arg("C"))
    path = write(tmp_path, stream(body, 5))
    refused(path, "array elements")
    path = write(tmp_path, SEED, "small.pkl")
    refused(path, r"more than 10 array elements \(option max_elements\)", options={"max_elements": 10})


def test_pickle__memo_bomb_is_refused_without_allocating(tmp_path):
    # LONG_BINPUT 2**31 - 1: CPython's unpickler would clear a 32 GiB memo table.
    path = write(tmp_path, b"\x80\x04N" + b"r" + struct.pack("<I", 2**31 - 1) + b".")
    refused(path, "memory bomb")
    path = write(tmp_path, b"\x80\x02N" + b"p99999999999\n.", "put.pkl")
    refused(path, "memory bomb")


def test_pickle__object_count_is_capped(tmp_path):
    path = write(tmp_path, stream(b"(" + b"}" * 300_000 + b"l"))  # 300,000 dicts in a list
    refused(path, r"more than 100,000 objects \(option max_objects\)", options={"max_objects": 100_000})
    refused(write(tmp_path, SEED, "s.pkl"), "more than 10 objects", options={"max_objects": 10})
    refused(write(tmp_path, SEED, "b.pkl"), "allowed", options={"max_bytes": 100})


def test_pickle__billion_laughs_memo_is_refused_quickly(tmp_path, standin):
    mod = standin("v0.1.33")
    lol = ["lol"] * 10
    for _ in range(9):
        lol = [lol] * 10  # 10**10 strings if anything walked it
    p = mod.Prediction(data_hash="a", confidence=0.5, object=mod.ObjectDetection(
        feature_hash="f", format=mod.Format.BOUNDING_BOX, data=mod.BoundingBox(x=0, y=0, w=1, h=1)))
    object.__setattr__(p, "__dict__", {**p.__dict__, "data_hash": lol})
    data = pickle.dumps([p], protocol=4)
    assert len(data) < 2000
    refused(write(tmp_path, data), "data_hash is a list, not a number")
    refused(write(tmp_path, pickle.dumps(lol, protocol=4), "top.pkl"), "expected a Prediction, found a list")
    # In every field the checks would print, and in what the reconstructors would print.
    for field, where in (("frame", ()), ("confidence", ()), ("x", ("object", "data")),
                         ("track_id", ("object",)), ("feature_hash", ("object",))):
        q = mod.Prediction(data_hash="a", confidence=0.5, object=mod.ObjectDetection(
            feature_hash="f", format=mod.Format.BOUNDING_BOX, data=mod.BoundingBox(x=0, y=0, w=1, h=1)))
        target = q if not where else (q.object if where == ("object",) else q.object.data)
        object.__setattr__(target, "__dict__", {**target.__dict__, field: lol})
        err = refused(write(tmp_path, pickle.dumps([q], protocol=4), f"{field}.pkl"), f"{field} is a list")
        assert err.json_path == "$" + "".join(f"[{k}]" if isinstance(k, int) else f".{k}" for k in (0, *where, field))
    for body in (call(glob("numpy", "dtype"), arg(lol), b"\x89\x88"),
                 call(glob("numpy._core.numeric", "_frombuffer"), b"\x96" + struct.pack("<Q", 8) + bytes(8),
                      call(glob("numpy", "dtype"), arg("f8"), b"\x89\x88"), arg(lol), arg("C"))):
        refused(write(tmp_path, stream(body, 5), "numpy.pkl"), "is not")


def test_pickle__nested_and_circular_references_are_refused(tmp_path, standin):
    mod = standin("v0.1.33")
    p = mod.Prediction(data_hash="a", confidence=0.5, classification=mod.FrameClassification(
        feature_hash="f", attribute_hash="a", option_hash="o"))
    object.__setattr__(p, "__dict__", {**p.__dict__, "classification": None, "object": p})  # itself
    refused(write(tmp_path, pickle.dumps([p], protocol=4)), "expected a ObjectDetection, found a .*Prediction")
    loop: list = []
    loop.append(loop)
    refused(write(tmp_path, pickle.dumps(loop, protocol=2), "loop.pkl"), "expected a Prediction, found a list")


def test_pickle__truncated_streams_are_refused(tmp_path):
    for data in (SEED, SEED2):
        for cut in range(0, len(data), 7):
            path = write(tmp_path, data[:cut], "cut.pkl")
            with pytest.raises(predport.ParseError, match="ends early|not a pickle|malformed"):
                predport.load(path, format="encord", image_sizes=SIZES)


def test_pickle__other_stream_faults_are_refused(tmp_path):
    cases = {
        "bytes after the end": SEED + b"junk",
        "persistent id": stream(b"\x8c\x01x\x94Q"),
        "extension code": stream(b"\x82\x01"),
        "out-of-band buffer": b"\x80\x05\x97.",
        "INST opcode": b"\x80\x02(iposix\nsystem\n.",
        "protocol 0": b"(lp0\n.",
        "second PROTO": b"\x80\x04\x80\x02N.",
    }
    for why, data in cases.items():
        path = write(tmp_path, data, "bad.pkl")
        with pytest.raises(predport.ParseError):
            predport.load(path, format="encord")
    assert "after the end" in refused(write(tmp_path, cases["bytes after the end"]), "bytes").message


def test_pickle__unknown_fields_and_wrong_types_are_located(tmp_path, standin):
    mod = standin("v0.1.33")
    good = mod.Prediction(data_hash="a", confidence=0.5, object=mod.ObjectDetection(
        feature_hash="f", format=mod.Format.BOUNDING_BOX, data=mod.BoundingBox(x=0.1, y=0, w=0.5, h=1)))
    extra = mod.Prediction(data_hash="a", confidence=0.5, object=mod.ObjectDetection(
        feature_hash="f", format=mod.Format.BOUNDING_BOX, data=mod.BoundingBox(x=0, y=0, w=1, h=1)))
    object.__setattr__(extra, "__dict__", {**extra.__dict__, "surprise": 1})
    err = refused(write(tmp_path, pickle.dumps([good, extra], protocol=4)), "no Encord Active release defines: surprise")
    assert err.json_path == "$[1]"
    wide = mod.Prediction(data_hash="a", confidence=0.5, object=mod.ObjectDetection(
        feature_hash="f", format=mod.Format.BOUNDING_BOX, data=mod.BoundingBox(x=0.6, y=0, w=0.4, h=1)))
    object.__setattr__(wide.object.data, "__dict__", {**wide.object.data.__dict__, "w": 0.5})  # skips validation
    err = refused(write(tmp_path, pickle.dumps([good, wide], protocol=4), "w.pkl"), "leaves the image")
    assert err.json_path == "$[1].object.data.w"
    # Under policy="skip" the bad prediction is counted and the good one kept.
    got = predport.load(tmp_path / "w.pkl", format="encord", image_sizes={"a": [100, 100]}, policy="skip")
    assert sum(len(f.predictions) for f in got.frames) == 1


def test_pickle__not_a_pickle_with_a_pkl_name(tmp_path):
    path = write(tmp_path, b'[{"data_hash": "a"}]')
    vote = [v for v in predport.detect(path) if v.format == "encord"][0]
    assert vote.confidence == predport.Confidence.NO and "not a pickle of protocol 2 to 5" in vote.reason
    refused(path, "not a pickle of protocol 2 to 5")


def test_pickle__empty_list_reads_as_no_predictions(tmp_path):
    path = write(tmp_path, pickle.dumps([], protocol=4))
    assert predport.load(path, format="encord").frames == []


# -- fuzzing -------------------------------------------------------------------------------
def _mutate(data: bytes, edits: list[tuple[int, int, bytes]]) -> bytes:
    out = bytearray(data)
    for kind, pos, chunk in edits:
        pos %= max(len(out), 1)
        if kind == 0:
            out[pos:pos + len(chunk)] = chunk  # overwrite
        elif kind == 1:
            out[pos:pos] = chunk  # insert
        else:
            del out[pos:pos + len(chunk) + 1]  # delete
    return bytes(out)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.sampled_from(["p4", "p2", "evil"]),
       edits=st.lists(st.tuples(st.integers(0, 2), st.integers(0, 4000), st.binary(min_size=1, max_size=6)),
                      max_size=4))
def test_pickle__fuzzed_streams_are_read_or_refused_and_run_nothing(seed, edits, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("fuzz")
    marker = tmp / "fuzz.marker"
    evil = call(glob("posix", "system"), arg(f"touch {marker}"))
    base = {"p4": SEED, "p2": SEED2, "evil": SEED[:-2] + evil + b"a."}[seed]
    path = write(tmp, _mutate(base, edits))
    try:
        predport.load(path, format="encord", image_sizes=SIZES, policy="skip")
    except predport.PredportError:
        pass
    assert not marker.exists()


def test_pickle__fuzz_seed_with_a_payload_is_live(tmp_path):
    marker = tmp_path / "fuzz.marker"
    evil = SEED[:-2] + call(glob("posix", "system"), arg(f"touch {marker}")) + b"a."
    refused(write(tmp_path, evil), "posix.system")
    assert not marker.exists()
    if sys.platform != "win32":
        try:
            pickle.loads(evil)
        except Exception:  # noqa: BLE001 - the stand-in classes are not importable here
            pass
        # The Encord classes are not importable, so the real unpickler fails before the
        # payload; run the payload alone to show it is live.
        pickle.loads(stream(call(glob("posix", "system"), arg(f"touch {marker}"))))
        assert marker.exists()


def test_pickle__cli_refuses_without_traceback_and_writes_nothing(evil, tmp_path):
    import subprocess

    marker, table = evil
    path = write(tmp_path, table["posix.system"][1])
    out = tmp_path / "out.json"
    for extra in ([], ["--from", "encord"]):
        r = subprocess.run([sys.executable, "-m", "predport", "convert", str(path), str(out), *extra],
                           capture_output=True, text=True)
        assert r.returncode != 0 and "Traceback" not in r.stderr
        assert "posix.system" in r.stderr
    assert not out.exists() and not marker.exists()


def _vocabulary(marker: Path) -> list[bytes]:
    lib = "encord_active.lib.db.predictions"
    tokens = [glob(lib, n) for n in ("Prediction", "ObjectDetection", "BoundingBox", "FrameClassification", "Format")]
    tokens += [glob("numpy", "dtype"), glob("numpy", "ndarray"), glob("numpy._core.multiarray", "scalar"),
               glob("numpy._core.multiarray", "_reconstruct"), glob("numpy._core.numeric", "_frombuffer"),
               glob("builtins", "set"), glob("_codecs", "encode"), glob("builtins", "getattr"),
               call(glob("posix", "system"), arg(f"touch {marker}")),
               call(glob("builtins", "exec"), arg(f"open({str(marker)!r}, 'w')"))]
    tokens += [s(t) for t in ("__dict__", "__fields_set__", "data_hash", "frame", "confidence", "object",
                              "classification", "format", "data", "feature_hash", "x", "y", "w", "h",
                              "bounding-box", "polygon", "mask", "f8", "u1", "C", "F", "latin1")]
    tokens += [bytes([c]) for c in b"(})]\x8ftR\x81bsuaeN\x88\x89\x8520\x94\x86\x87\x90"]  # structure, memo
    tokens += [b"h\x00", b"h\x01", b"h\x03", b"K\x00", b"K\x02", b"G" + struct.pack(">d", 0.25),
               b"C\x08" + struct.pack("<d", 0.5), b"\x96" + struct.pack("<Q", 16) + bytes(16)]
    return tokens


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(choice=st.lists(st.integers(0, 10_000), min_size=1, max_size=40), protocol=st.sampled_from([2, 4, 5]))
def test_pickle__random_opcode_streams_are_read_or_refused_and_run_nothing(choice, protocol, tmp_path_factory):
    # Streams assembled from the allowed globals, two live payloads and the opcodes that
    # build, call and share objects: whatever they do, only stand-ins are ever built.
    tmp = tmp_path_factory.mktemp("ops")
    marker = tmp / "ops.marker"
    vocab = _vocabulary(marker)
    path = write(tmp, stream(b"".join(vocab[i % len(vocab)] for i in choice), protocol))
    try:
        predport.load(path, format="encord", image_sizes=SIZES, policy="skip")
    except predport.PredportError:
        pass
    assert not marker.exists()
