"""Loading a file never runs code: no unpickling anywhere, and hostile safetensors
headers or metadata are refused with one line instead of crashing or exhausting memory.

1. A scan of the shipped sources (gankit/, plugins/, examples/, benchmarks/) with the
   ``ast`` module: no ``torch.load`` without ``weights_only=True``, no ``torch.save``
   (it pickles), no pickle-family import (pickle, cPickle, dill, cloudpickle, joblib,
   shelve, marshal), no ``np.load(..., allow_pickle=True)``, no ``pandas.read_pickle``
   or ``yaml.load``/``unsafe_load``, no ``eval``/``exec``.
2. Hand-made ``.safetensors`` files with hostile headers and metadata, through the API
   and ``gankit sample``.
"""

from __future__ import annotations

import ast
import json
import struct
from pathlib import Path

import pytest
from click.testing import CliRunner

from gankit import checkpoints as ckpt
from gankit.cli import make_cli
from gankit.errors import CheckpointError

from kit import ROOT

SCANNED = ("gankit", "plugins", "examples", "benchmarks")
PICKLE_MODULES = {"pickle", "cPickle", "_pickle", "dill", "cloudpickle", "joblib", "shelve",
                  "marshal", "pickletools"}


def _dotted(node) -> str:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    parts.append(node.id if isinstance(node, ast.Name) else "?")  # "?": a call, a subscript
    return ".".join(reversed(parts))


def _kw_true(call: ast.Call, name: str) -> bool:
    return any(k.arg == name and isinstance(k.value, ast.Constant) and k.value.value is True
               for k in call.keywords)


def unsafe_uses(source: str, filename: str = "<src>") -> list[str]:
    """Every line of ``source`` that can unpickle or evaluate data."""
    found = []
    tree = ast.parse(source, filename)
    for node in ast.walk(tree):
        where = f"{filename}:{getattr(node, 'lineno', '?')}"
        if isinstance(node, ast.Import):
            for a in node.names:
                if a.name.split(".")[0] in PICKLE_MODULES:
                    found.append(f"{where}: import {a.name}")
        elif isinstance(node, ast.ImportFrom):
            if (node.module or "").split(".")[0] in PICKLE_MODULES:
                found.append(f"{where}: from {node.module} import ...")
        elif isinstance(node, ast.Call):
            name = _dotted(node.func)
            last = name.rsplit(".", 1)[-1]
            if name in ("eval", "exec", "builtins.eval", "builtins.exec"):
                found.append(f"{where}: {name}()")
            elif name.endswith("torch.load"):
                if not _kw_true(node, "weights_only"):
                    found.append(f"{where}: torch.load without weights_only=True")
            elif name.endswith("torch.save"):
                found.append(f"{where}: torch.save (pickles)")
            elif last == "load" and name.split(".")[0] in ("np", "numpy"):
                if _kw_true(node, "allow_pickle"):
                    found.append(f"{where}: np.load(allow_pickle=True)")
            elif last in ("read_pickle", "unsafe_load", "full_load") or name == "yaml.load":
                found.append(f"{where}: {name}()")
            elif last in ("loads", "load") and name.split(".")[0] in PICKLE_MODULES:
                found.append(f"{where}: {name}()")
    return found


def sources():
    for top in SCANNED:
        base = ROOT / top
        if base.is_dir():
            yield from sorted(p for p in base.rglob("*.py") if "__pycache__" not in p.parts)


def test_scanner_catches_each_pattern():
    bad = """
import pickle
from dill import loads
import numpy as np, torch, yaml
x = torch.load("a.pt")
y = torch.load("a.pt", weights_only=False)
torch.save(model, "m.pt")
z = np.load("a.npy", allow_pickle=True)
eval(open("f").read())
exec("print(1)")
yaml.load(s)
pd.read_pickle("p")
"""
    found = unsafe_uses(bad)
    assert len(found) == 10, found
    ok = """
import numpy as np, torch, json
w = torch.load("a.pt", weights_only=True)
v = np.load("a.npy")
u = np.load("a.npy", allow_pickle=False)
net.eval()
net.to("cpu").eval()
json.loads("{}")
"""
    assert unsafe_uses(ok) == []


def test_no_unpickling_or_eval_in_the_sources():
    files = list(sources())
    assert len(files) > 20 and any(p.name == "checkpoints.py" for p in files)
    problems = []
    for p in files:
        problems += unsafe_uses(p.read_text(encoding="utf-8"), str(p.relative_to(ROOT)))
    assert problems == []


# ------------------------------------------------------------------ hostile safetensors


def raw_safetensors(path: Path, header, data: bytes = b"", pad_to: int | None = None) -> Path:
    """A file with exactly this header (a JSON-able object, or raw bytes) and data."""
    h = header if isinstance(header, bytes) else json.dumps(header).encode()
    if pad_to:
        h += b" " * (pad_to - len(h))
    path.write_bytes(struct.pack("<Q", len(h)) + h + data)
    return path


def meta_file(path: Path, **metadata) -> Path:
    """A one-tensor safetensors file whose metadata strings are given."""
    return raw_safetensors(path, {"__metadata__": metadata,
                                  "w": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}},
                           b"\0\0\0\0")


GOOD_META = {"gankit.format": "1", "gankit.model": "dcgan", "gankit.step": "1",
             "gankit.config": "{}", "gankit.data": "{}", "gankit.train": "{}",
             "gankit.state": "{}"}

def _huge_header(path: Path) -> Path:
    """A real 100 MB header: refused from its length, before it is read or parsed."""
    size = 100 << 20
    with open(path, "wb") as fh:
        fh.write(struct.pack("<Q", size))
        fh.write(b"{" + b'"a":' * 8 + b" " * 1024)
        fh.truncate(8 + size)  # sparse: cheap to write
    return path



HOSTILE = {
    # the header itself
    "header-100MB": (lambda p: _huge_header(p), "header of 104857600 bytes"),
    "header-deep": (lambda p: raw_safetensors(p, b"[" * 200_000 + b"]" * 200_000), "bad header"),
    "header-array": (lambda p: raw_safetensors(p, [1, 2, 3]), "bad header"),
    "header-not-utf8": (lambda p: raw_safetensors(p, b"\xff\xfe{}"), "bad header"),
    "offset-huge-float": (lambda p: raw_safetensors(
        p, b'{"w": {"dtype": "F32", "shape": [1], "data_offsets": [0, 1e400]}}'),
        "bad tensor entry"),
    "offset-huge-int": (lambda p: raw_safetensors(
        p, {"w": {"dtype": "F32", "shape": [1], "data_offsets": [0, 10 ** 30]}}), "truncated"),
    "offset-string": (lambda p: raw_safetensors(
        p, {"w": {"dtype": "F32", "shape": [1], "data_offsets": "lots"}}), "bad tensor entry"),
    "metadata-not-strings": (lambda p: raw_safetensors(p, {"__metadata__": {"a": {"b": 1}}}),
                             "bad safetensors metadata"),
    "metadata-10MB": (lambda p: meta_file(p, **GOOD_META, junk="x" * (10 << 20)),
                      "metadata too large"),
    # gankit's JSON fields
    "config-deep": (lambda p: meta_file(p, **{**GOOD_META, "gankit.config":
                                              "[" * 100_000 + "]" * 100_000}),
                    "'gankit.config' is not valid JSON"),
    "train-deep": (lambda p: meta_file(p, **{**GOOD_META, "gankit.train":
                                             '{"a":' * 50_000 + "1" + "}" * 50_000}),
                   "'gankit.train' is not valid JSON"),
    "config-huge-int-literal": (lambda p: meta_file(p, **{**GOOD_META, "gankit.config":
                                                          '{"ngf": ' + "9" * 100_000 + "}"}),
                                "'gankit.config' is not valid JSON"),
    "config-inf": (lambda p: meta_file(p, **{**GOOD_META, "gankit.config": '{"ngf": 1e999}'}),
                   "'ngf' = Infinity is not a valid int"),
    "config-giant-net": (lambda p: meta_file(p, **{**GOOD_META, "gankit.config":
                                                   '{"ngf": 4000000000, "ndf": 8}'}),
                         "metadata does not describe a buildable model"),
    "config-big-net": (lambda p: meta_file(p, **{**GOOD_META, "gankit.config":
                                                 '{"ngf": 100000, "ndf": 8}'}),
                       "weights do not fit model 'dcgan'"),
    "step-huge": (lambda p: meta_file(p, **{**GOOD_META, "gankit.step": "9" * 10_000}),
                  "bad gankit.step"),
    "format-huge": (lambda p: meta_file(p, **{**GOOD_META, "gankit.format": "9" * 10_000}),
                    "bad gankit.format"),
    "state-deep": (lambda p: meta_file(p, **{**GOOD_META, "gankit.state":
                                             '{"__d__": ' + "[" * 100_000 + "]" * 100_000 + "}"}),
                   "'gankit.state' is not valid JSON"),
    "state-wrong-shape": (lambda p: meta_file(p, **{**GOOD_META, "gankit.state":
                                                    '{"__d__": [[1, {"__l__": 7}]]}'}),
                          "'gankit.state' is malformed"),
}


def open_and_read(path: Path):
    """What every command does with a checkpoint: parse it, then read its state."""
    c = ckpt.Checkpoint(path)
    return c.state()


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_file_refused_by_the_api(case, tmp_path):
    make, words = HOSTILE[case]
    path = make(tmp_path / f"{case}.safetensors")
    if case.startswith("config-") and "deep" not in case and "literal" not in case:
        from gankit.loading import load_model

        with pytest.raises(CheckpointError) as info:
            load_model(path)
    else:
        with pytest.raises(CheckpointError) as info:
            open_and_read(path)
    msg = str(info.value)
    assert str(path) in msg and words in msg, msg
    assert "\n" not in msg and len(msg) < 600


@pytest.mark.parametrize("case", ["header-100MB", "header-deep", "offset-huge-float",
                                  "metadata-10MB", "config-deep", "config-giant-net",
                                  "state-wrong-shape"])
def test_hostile_file_one_line_from_the_cli(case, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    make, words = HOSTILE[case]
    path = make(tmp_path / f"{case}.safetensors")
    r = CliRunner().invoke(make_cli(), ["-q", "sample", str(path), "--out", "x.png"],
                           catch_exceptions=False)
    assert r.exit_code == 1 and "Traceback" not in r.output
    lines = r.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: ") and path.name in lines[0], lines
    if case != "state-wrong-shape":  # sample reads only the weights, not the training state
        assert words in lines[0]
    assert not (tmp_path / "x.png").exists()
