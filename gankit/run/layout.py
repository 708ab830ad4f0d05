"""A run folder's layout: the names gankit gives its files, where each lives, and
listing what is there (checkpoints, sample grids, the files gankit wrote)."""

from __future__ import annotations

import os
import re
from pathlib import Path

from ..errors import GankitError, UsageError
from ..files import is_regular, is_temp

DEFAULT_ROOT = Path("runs")
CKPT_RE = re.compile(r"^step-(\d+)\.safetensors$")
EVAL_RE = re.compile(r"^eval-step-(\d+)\.json$")
#: what a run folder may hold (an existing --name folder with anything else is refused)
RUN_FILES = {"config.json", "status.json", "run.lock", "metrics.jsonl", "samples",
             "checkpoints", "directions", "metrics", "tensorboard", "encoder.safetensors"}
#: what gankit writes inside a run folder, by subfolder (regular expressions on names)
OWNED = {
    "": re.compile(r"^(config\.json|status\.json|run\.lock|metrics\.jsonl|timelapse\.gif|"
                   r"encoder\.safetensors)$"),
    "checkpoints": re.compile(r"^step-\d{7,}\.safetensors$"),
    "samples": re.compile(r"^(step-\d{6,}\.png|losses\.png)$"),
    "directions": re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}\.safetensors$"),
    "metrics": re.compile(r"^(eval-step-\d{7,}\.json|closest-step-\d{7,}\.png)$"),
    "tensorboard": re.compile(r"^events\.out\.tfevents\.[A-Za-z0-9_.-]+$"),
}
#: what a killed atomic write leaves: .NAME.XXXXXXXX.tmp (mkstemp's eight characters)
TEMP_RE = re.compile(r"^\.(.+)\.[a-z0-9_]{8}\.tmp$")


def owned_name(folder: str, name: str) -> bool:
    """A file name gankit writes in a run's ``folder`` ("" for the run folder itself), or
    the temporary file of one."""
    pattern = OWNED.get(folder)
    if pattern is None:
        return False
    m = TEMP_RE.match(name)
    return bool(pattern.match(m.group(1) if m else name))


def check_name(name: str, flag: str = "--name") -> str:
    """A run name is one plain folder name: never a path that leaves ``--out``."""
    bad = (not name or name in (".", "..") or "/" in name or "\\" in name or "\0" in name
           or name != name.strip() or len(name) > 200 or Path(name).is_absolute())
    if bad:
        raise UsageError(f"{flag} {name!r}: must be a plain folder name (letters, digits, "
                         "- _ .; no / or ..), created inside --out")
    return name


def writable_dir(path: Path, flag: str) -> None:
    """Create ``path`` or fail with one line naming the flag."""
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / f".gankit-write-test-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise GankitError(f"{flag} {path}: not writable ({exc.strerror or exc})") from None


class RunLayout:
    """The paths of a run folder (``self.path``) and what they hold; part of
    :class:`gankit.run.Run`."""

    @property
    def name(self) -> str:
        return self.path.name

    config_path = property(lambda self: self.path / "config.json")
    status_path = property(lambda self: self.path / "status.json")
    lock_path = property(lambda self: self.path / "run.lock")
    metrics_path = property(lambda self: self.path / "metrics.jsonl")
    samples_dir = property(lambda self: self.path / "samples")
    checkpoints_dir = property(lambda self: self.path / "checkpoints")
    directions_dir = property(lambda self: self.path / "directions")
    eval_dir = property(lambda self: self.path / "metrics")
    timelapse_path = property(lambda self: self.path / "timelapse.gif")
    #: the image -> z encoder `gankit project --fit-encoder` trains once (projection.py)
    encoder_path = property(lambda self: self.path / "encoder.safetensors")

    def sample_path(self, step: int) -> Path:
        return self.samples_dir / f"step-{step:06d}.png"

    def checkpoint_path(self, step: int) -> Path:
        return self.checkpoints_dir / f"step-{step:07d}.safetensors"

    def eval_path(self, step: int, tag: str = "") -> Path:
        """``metrics/eval-step-N.json`` (``tag``: "-NAME" for a loose checkpoint's result)."""
        return self.eval_dir / f"eval-step-{step:07d}{tag}.json"

    def picture_path(self, step: int, tag: str = "") -> Path:
        return self.eval_dir / f"closest-step-{step:07d}{tag}.png"

    def direction_path(self, name: str) -> Path:
        return self.directions_dir / f"{name}.safetensors"

    def prepare_folders(self) -> None:
        writable_dir(self.path, "--out")
        self.samples_dir.mkdir(exist_ok=True)
        self.checkpoints_dir.mkdir(exist_ok=True)

    def sample_grids(self) -> list[tuple[int, Path]]:
        """(step, path) of the preview grids, oldest first."""
        if not self.samples_dir.is_dir():
            return []
        found = []
        for p in self.samples_dir.glob("step-*.png"):
            m = re.fullmatch(r"step-(\d+)\.png", p.name)
            if m and is_regular(p):  # a pipe named like a grid would block its reader
                found.append((int(m.group(1)), p))
        return sorted(found)

    def checkpoints(self) -> list[Path]:
        d = self.checkpoints_dir
        if not d.is_dir():
            return []
        try:
            found = [(int(m.group(1)), p) for p in d.iterdir()
                     if (m := CKPT_RE.match(p.name)) and is_regular(p)]
        except OSError:
            return []
        return [p for _, p in sorted(found)]

    def newest_step(self) -> int | None:
        found = self.checkpoints()
        return int(CKPT_RE.match(found[-1].name).group(1)) if found else None

    def owned_files(self) -> tuple[list[Path], list[Path]]:
        """(the files gankit wrote in this run folder, every other entry) — by gankit's
        own names in its own subfolders; ``clean`` removes only the first list. config.json
        comes last, just after run.lock, so an interrupted removal leaves a folder that
        is still recognised as a run and can be cleaned again."""
        owned, other = [], []
        last = []
        try:
            entries = sorted(self.path.iterdir())
        except OSError:
            return [], []
        for e in entries:
            if e.is_symlink():
                other.append(e)
                continue
            if e.is_dir() and e.name in OWNED and e.name:
                try:
                    inner = sorted(e.iterdir())
                except OSError:
                    other.append(e)
                    continue
                for f in inner:
                    if not f.is_symlink() and is_regular(f) and owned_name(e.name, f.name):
                        owned.append(f)
                    else:
                        other.append(f)
            elif is_regular(e) and not e.is_symlink() and owned_name("", e.name):
                (last if e.name in ("config.json", "status.json", "run.lock") else owned).append(e)
            else:
                other.append(e)
        order = {"status.json": 0, "run.lock": 1, "config.json": 2}
        return owned + sorted(last, key=lambda f: order[f.name]), other

    def remove_stale_temps(self) -> list[Path]:
        """Delete the temporary files that a killed atomic write left (called at start,
        under the run lock, so no live writer owns them)."""
        removed = []
        for d in (self.path, self.checkpoints_dir, self.samples_dir):
            if not d.is_dir():
                continue
            for p in d.iterdir():
                if is_temp(p) and p.is_file():
                    try:
                        p.unlink()
                        removed.append(p)
                    except OSError:
                        pass
        return removed
