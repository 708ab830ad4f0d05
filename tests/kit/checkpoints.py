"""Hostile variants of real checkpoints, and a child process that runs gankit on them.

Shared by test_checkpoint_validation.py and test_checkpoint_fuzz.py. A variant is a copy
of a real run folder whose newest checkpoint was rewritten with safetensors (same
metadata, the ``gankit.state`` skeleton adjusted where a tensor goes). Commands run in a
child Python process, each through click's CliRunner there (fast: torch is imported
once), so a command that kills its process (a signal, heap corruption) is reported as
such instead of taking pytest down; the child is restarted after the job that died.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from kit import CYCLE_TINY, QUICK, TINY, cli, noise_pngs


def train_dcgan(root: Path) -> Path:
    """A tiny dcgan run on 16 noise images: checkpoints at steps 2 and 4."""
    data = noise_pngs(root / "data", 16)
    r = cli("train", "dcgan", "--data", data, *TINY, *QUICK, "--steps", "4",
            "--checkpoint-every", "2", "--out", root / "runs", "--name", "dcgan", quiet=True)
    assert r.exit_code == 0, r.output
    return root / "runs" / "dcgan"


def train_cyclegan(root: Path) -> Path:
    """A tiny cyclegan run (two domains, pools, schedulers): checkpoints at 2 and 4."""
    a = noise_pngs(root / "photos", 6, seed=1)
    b = noise_pngs(root / "paintings", 5, seed=2)
    r = cli("train", "cyclegan", "--data", a, "--data-b", b, *CYCLE_TINY, *QUICK,
            "--steps", "4", "--checkpoint-every", "2", "--out", root / "runs",
            "--name", "cyclegan", quiet=True)
    assert r.exit_code == 0, r.output
    return root / "runs" / "cyclegan"


def newest(run: Path) -> Path:
    return sorted((run / "checkpoints").glob("step-*.safetensors"))[-1]


# -- reading and rewriting a checkpoint ----------------------------------------------------


class Parts:
    """A checkpoint taken apart: tensors, string metadata and the state skeleton."""

    def __init__(self, path: Path):
        from safetensors import safe_open
        from safetensors.torch import load_file

        with safe_open(str(path), "pt") as fh:
            self.meta = dict(fh.metadata())
        self.tensors = load_file(str(path))
        self.skel = json.loads(self.meta["gankit.state"])

    # the skeleton: {"__d__": [[key, node], ...]}, {"__l__": [...]}, {"__t__": name}
    def node(self, *path):
        n = self.skel
        for k in path:
            n = _child(n, k)
        return n

    def set(self, path, value) -> None:
        parent = self.node(*path[:-1])
        k = path[-1]
        if "__d__" in parent:
            for pair in parent["__d__"]:
                if pair[0] == k:
                    pair[1] = value
                    return
            parent["__d__"].append([k, value])
        else:
            parent["__l__"][k] = value

    def drop(self, path) -> None:
        """Remove a node and the tensors under it."""
        for name in _tensor_names(self.node(*path)):
            self.tensors.pop(name, None)
        parent = self.node(*path[:-1])
        parent["__d__"] = [p for p in parent["__d__"] if p[0] != path[-1]]

    def rename_key(self, path, new) -> None:
        parent = self.node(*path[:-1])
        for pair in parent["__d__"]:
            if pair[0] == path[-1]:
                pair[0] = new

    def write(self, path: Path) -> Path:
        from safetensors.torch import save_file

        meta = dict(self.meta)
        meta["gankit.state"] = json.dumps(self.skel)
        save_file(self.tensors, str(path), metadata=meta)
        return path


def _child(n, k):
    if "__d__" in n:
        for key, v in n["__d__"]:
            if key == k:
                return v
        raise KeyError(k)
    return n["__l__"][k]


def _tensor_names(n) -> list:
    if isinstance(n, dict):
        if "__t__" in n:
            return [n["__t__"]]
        kids = [v for _, v in n["__d__"]] if "__d__" in n else n.get("__l__", [])
        return [t for v in kids for t in _tensor_names(v)]
    return []


def variant(run: Path, dest: Path, edit) -> Path:
    """Copy ``run`` to ``dest`` and rewrite its newest checkpoint with ``edit(parts)``;
    returns the rewritten checkpoint's path."""
    shutil.copytree(run, dest)
    ck = newest(dest)
    parts = Parts(ck)
    edit(parts)
    return parts.write(ck)


def snapshot(run: Path) -> dict:
    """Every file of a run folder: relative path -> content hash (an untouched folder
    compares equal)."""
    return {str(p.relative_to(run)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(run.rglob("*")) if p.is_file()}


# -- running commands in a child process ---------------------------------------------------

DRIVER = r"""
import json, os, sys
os.environ["GANKIT_LOAD_PLUGINS"] = ""
from click.testing import CliRunner
from gankit.cli import make_cli
for job in json.load(open(sys.argv[1])):
    print("BEGIN " + job["id"], flush=True)
    os.chdir(job.get("cwd") or ".")
    r = CliRunner().invoke(make_cli(), ["-q", *job["args"]])
    exc = r.exception
    print("RESULT " + json.dumps({
        "id": job["id"], "exit_code": r.exit_code, "stderr": r.stderr,
        "stdout": r.stdout[-2000:],
        "exception": None if exc is None or isinstance(exc, SystemExit)
        else f"{type(exc).__name__}: {exc}"}), flush=True)
"""


def run_jobs(jobs: list[dict], workdir: Path, timeout: float = 600) -> dict:
    """Run ``jobs`` ({"id", "args"[, "cwd"]}) in a child process, in order; returns
    id -> result ({"exit_code", "stderr", "stdout", "exception"}, or {"died": code,
    "stderr": ...} for the job the child died in; the child restarts after it)."""
    results: dict = {}
    remaining = list(jobs)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "GANKIT_LOAD_PLUGINS": ""}
    n = 0
    while remaining:
        n += 1
        jobs_file = workdir / f"jobs-{n}.json"
        jobs_file.write_text(json.dumps(remaining))
        proc = subprocess.run([sys.executable, "-c", DRIVER, str(jobs_file)], cwd=workdir,
                              env=env, capture_output=True, text=True, timeout=timeout)
        begun = None
        for line in proc.stdout.splitlines():
            if line.startswith("BEGIN "):
                begun = line[6:]
            elif line.startswith("RESULT "):
                res = json.loads(line[7:])
                results[res["id"]] = res
                begun = None
        if proc.returncode == 0:
            break
        if begun is None:  # died outside any job: report it on every job left
            for job in remaining:
                results.setdefault(job["id"], {"died": proc.returncode,
                                               "stderr": proc.stderr[-3000:]})
            break
        results[begun] = {"died": proc.returncode, "stderr": proc.stderr[-3000:]}
        ids = [j["id"] for j in remaining]
        remaining = remaining[ids.index(begun) + 1:]
    return results


def lines_of(text: str) -> list[str]:
    return [ln for ln in (text or "").splitlines() if ln.strip()]


def check_refused(res: dict, names, *words) -> str:
    """Refused the gankit way: exit 1 or 2, exactly one ``Error:`` line on stderr naming
    the file (any of ``names``) and containing ``words``, no traceback, alive."""
    assert "died" not in res, f"killed (exit {res.get('died')}): {res.get('stderr')}"
    assert res["exception"] is None, res["exception"]
    assert "Traceback" not in res["stderr"] + res["stdout"], res["stderr"]
    assert res["exit_code"] in (1, 2), res
    lines = lines_of(res["stderr"])
    assert len(lines) == 1, res["stderr"]
    assert lines[0].startswith("Error: "), lines
    names = [names] if isinstance(names, str) else list(names)
    assert any(n in lines[0] for n in names), (names, lines[0])
    for w in words:
        assert w in lines[0], (w, lines[0])
    return lines[0]


def check_survived(res: dict, names) -> str:
    """Either refused as above, or accepted (exit 0) without a traceback: what a fuzzed
    file may do when its mutation is harmless."""
    assert "died" not in res, f"killed (exit {res.get('died')}): {res.get('stderr')}"
    assert res["exception"] is None, res["exception"]
    if res["exit_code"] == 0:
        assert "Traceback" not in res["stderr"] + res["stdout"], res["stderr"]
        return ""
    return check_refused(res, names)
