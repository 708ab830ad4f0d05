"""The runs a studio may show: those directly under the runs folder, and the one given.

The page names a run by an id from :meth:`Catalog.entries`; an id is looked up in a
fresh listing and never joined onto a path, so no request can reach a folder outside
the runs folder or the run given on the command line. Nothing here imports torch.
"""

from __future__ import annotations

import json
import os
import socket
from dataclasses import dataclass
from pathlib import Path

from ..checkpoints import CKPT_RE, list_checkpoints
from ..errors import GankitError
from .validate import BadRequest

MAX_JSON_FILE = 1024 * 1024  # config.json / status.json larger than this are not read
STATUSES = ("running", "completed", "interrupted", "failed", "diverged")


@dataclass(frozen=True)
class RunEntry:
    id: str
    run_dir: Path | None  # None: a checkpoint file outside any run folder
    checkpoint: Path | None = None  # a checkpoint the user chose; else the run's newest
    given: bool = False

    @property
    def name(self) -> str:
        return self.run_dir.name if self.run_dir is not None else self.checkpoint.stem


def _is_run(path: Path) -> bool:
    return bool(list_checkpoints(path))


def _run_dir_of_checkpoint(path: Path) -> Path | None:
    p = path.resolve()
    return p.parent.parent if p.parent.name == "checkpoints" else None


class Catalog:
    """Runs under ``root`` plus the ``target`` given on the command line (a run folder,
    a folder of runs or a checkpoint file; None: the newest run under ``root``)."""

    def __init__(self, root: Path | str = "runs", target: str | Path | None = None):
        from ..runs import newest_run

        self.root = Path(root)
        self.given: RunEntry | None = None
        if target is None:
            run = newest_run(self.root)
            self.default_id = run.name
            return
        p = Path(target)
        if not p.exists():
            raise GankitError(f"{p}: no such run folder or checkpoint")
        if p.is_file():
            if p.suffix.lower() != ".safetensors":
                raise GankitError(f"{p}: not a run folder or a .safetensors checkpoint")
            from ..checkpoints import Checkpoint

            Checkpoint(p)  # a readable gankit checkpoint, or a clear error now
            run_dir = _run_dir_of_checkpoint(p)
            self.given = RunEntry(self._given_id(run_dir.name if run_dir else p.stem, run_dir),
                                  run_dir, p.resolve(), True)
        elif _is_run(p):
            self.given = RunEntry(self._given_id(p.name, p), p.resolve(), None, True)
        elif any(_is_run(d) for d in p.iterdir() if d.is_dir()):
            self.root = p  # a folder of runs: its newest first
            self.default_id = newest_run(p).name
            return
        else:
            raise GankitError(f"{p}: not a gankit run (no checkpoints/step-*.safetensors in it)")
        self.default_id = self.given.id

    def _given_id(self, name: str, run_dir: Path | None) -> str:
        """The folder name, unless a different run under the root has that name."""
        other = self.root / name
        if run_dir is not None and other.resolve() == run_dir.resolve():
            return name
        return f"{name} (given)" if other.is_dir() else name

    def entries(self) -> list[RunEntry]:
        """The given run first, then every run under the root (freshly listed)."""
        out = [self.given] if self.given else []
        try:
            subdirs = sorted(d for d in self.root.iterdir() if d.is_dir()) if self.root.is_dir() else []
        except OSError:
            subdirs = []
        for d in subdirs:
            if self.given is not None and d.name == self.given.id:
                if self.given.checkpoint is None:
                    continue  # the given run itself
                if self.given.run_dir and d.resolve() == self.given.run_dir:
                    continue  # the given checkpoint's run: shown once, at that checkpoint
            if _is_run(d):
                out.append(RunEntry(d.name, d.resolve()))
        return out

    def get(self, run_id: str | None) -> RunEntry:
        run_id = self.default_id if run_id in (None, "") else run_id
        for e in self.entries():
            if e.id == run_id:
                return e
        raise BadRequest(f"unknown run {run_id[:80]!r}; choose one from /api/runs", 404)


# -- what a run folder says about itself ------------------------------------------------


def read_json(path: Path):
    """A small JSON file's content, or None when it is missing, too large or malformed."""
    try:
        if path.stat().st_size > MAX_JSON_FILE:
            return None
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, UnicodeDecodeError):
        return None


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except (OSError, OverflowError, ValueError):
        return False
    return True


def lock_alive(run_dir: Path) -> bool | None:
    """True: a process trains the run; False: no lock or a stale one; None: a lock from
    another host, whose process cannot be checked from here."""
    lock = read_json(run_dir / "run.lock")
    if not isinstance(lock, dict):
        return False
    pid, host = lock.get("pid"), lock.get("host")
    if host not in (None, socket.gethostname()):
        return None
    return isinstance(pid, int) and not isinstance(pid, bool) and pid > 0 and pid_alive(pid)


def newest_step(run_dir: Path) -> int | None:
    ckpts = list_checkpoints(run_dir)
    return int(CKPT_RE.match(ckpts[-1].name).group(1)) if ckpts else None


def run_status(run_dir: Path, config: dict | None = None) -> dict:
    """``{"status", "step", "total_steps", "message"}`` from status.json and run.lock;
    a run without status.json (gankit 0.1.0) is completed when its newest checkpoint
    reached options.steps, else interrupted."""
    config = config if config is not None else (read_json(run_dir / "config.json") or {})
    options = config.get("options") if isinstance(config.get("options"), dict) else {}
    total = options.get("steps") if isinstance(options.get("steps"), int) else None
    step = newest_step(run_dir)
    alive = lock_alive(run_dir)
    st = read_json(run_dir / "status.json")
    if isinstance(st, dict) and st.get("status") in STATUSES:
        status = st["status"]
        if status == "running" and alive is False:
            status = "interrupted"  # the training process is gone
        return {"status": status,
                "step": st["step"] if isinstance(st.get("step"), int) else step,
                "total_steps": st["total_steps"] if isinstance(st.get("total_steps"), int) else total,
                "message": st.get("message") if isinstance(st.get("message"), str) else None}
    if alive:
        status = "running"
    elif step is not None and total is not None and step >= total:
        status = "completed"
    else:
        status = "interrupted"
    return {"status": status, "step": step, "total_steps": total, "message": None}


def summary(entry: RunEntry) -> dict:
    """What the run picker shows, from config.json and file names only (no weights)."""
    row = {"id": entry.id, "name": entry.name, "given": entry.given,
           "pinned_checkpoint": entry.checkpoint.name if entry.checkpoint else None}
    if entry.run_dir is None:
        row.update({"model": None, "status": None, "step": None, "total_steps": None})
        return row
    config = read_json(entry.run_dir / "config.json") or {}
    data = config.get("data") if isinstance(config.get("data"), dict) else {}
    row["model"] = config.get("model") if isinstance(config.get("model"), str) else None
    row["data"] = data.get("name") if isinstance(data.get("name"), str) else None
    row["image_size"] = data.get("size") if isinstance(data.get("size"), int) else None
    row.update(run_status(entry.run_dir, config))
    if entry.checkpoint is not None:
        m = CKPT_RE.match(entry.checkpoint.name)
        row["step"] = int(m.group(1)) if m else row["step"]
    return row
