"""The runs a studio may show: those directly under the runs folder, and the one given.

The page names a run by an id from :meth:`Catalog.entries`; an id is looked up in a
fresh listing and never joined onto a path, so no request can reach a folder outside
the runs folder or the run given on the command line. Nothing here imports torch.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..checkpoints import Checkpoint
from ..errors import GankitError
from ..files import MAX_JSON_FILE, read_small_json
from ..run import CKPT_RE, Run
from .validate import BadRequest



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
    """A gankit run (:meth:`Run.is_run`) with at least one checkpoint to show."""
    return bool(Run(path).checkpoints()) and Run.is_run(path)


def _run_dir_of_checkpoint(path: Path) -> Path | None:
    run = Run.of_checkpoint(path.resolve())
    return run.path if run is not None else None


class Catalog:
    """Runs under ``root`` plus the ``target`` given on the command line (a run folder,
    a folder of runs or a checkpoint file; None: the newest run under ``root``)."""

    def __init__(self, root: Path | str = "runs", target: str | Path | None = None):
        self.root = Path(root)
        self.given: RunEntry | None = None
        if target is None:
            run = Run.newest(self.root).path
            self.default_id = run.name
            return
        loc = Run.locate(target, self.root)  # the rule every command uses
        p = Path(target)
        if loc.kind == "checkpoint":
            p = loc.checkpoint
            Checkpoint(p)  # a readable gankit checkpoint, or a clear error now
            run_dir = _run_dir_of_checkpoint(p)
            self.given = RunEntry(self._given_id(run_dir.name if run_dir else p.stem, run_dir),
                                  run_dir, p.resolve(), True)
        elif loc.kind == "run" and _is_run(loc.run.path):
            p = loc.run.path
            self.given = RunEntry(self._given_id(p.name, p), p.resolve(), None, True)
        elif loc.kind == "runs":
            self.root = p  # a folder of runs: its newest first
            self.default_id = loc.run.name
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
    return read_small_json(path, MAX_JSON_FILE)


def run_status(run_dir: Path, config: dict | None = None) -> dict:
    return Run(run_dir).status(config)


def summary(entry: RunEntry) -> dict:
    """What the run picker shows, from config.json and file names only (no weights)."""
    row = {"id": entry.id, "name": entry.name, "given": entry.given,
           "pinned_checkpoint": entry.checkpoint.name if entry.checkpoint else None}
    if entry.run_dir is None:
        row.update({"model": None, "status": None, "step": None, "total_steps": None})
        return row
    config = read_json(Run(entry.run_dir).config_path) or {}
    data = config.get("data") if isinstance(config.get("data"), dict) else {}
    row["model"] = config.get("model") if isinstance(config.get("model"), str) else None
    row["data"] = data.get("name") if isinstance(data.get("name"), str) else None
    row["image_size"] = data.get("size") if isinstance(data.get("size"), int) else None
    row.update(run_status(entry.run_dir, config))
    if entry.checkpoint is not None:
        m = CKPT_RE.match(entry.checkpoint.name)
        row["step"] = int(m.group(1)) if m else row["step"]
    return row
