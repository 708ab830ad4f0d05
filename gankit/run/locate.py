"""Which run a path means: what makes a folder a gankit run, and the one rule every
command uses to turn a command-line target into a run or a checkpoint (see
:mod:`gankit.run`'s docstring)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from .. import console
from ..checkpoints import Checkpoint, read_header
from ..errors import CheckpointError, GankitError, UsageError
from ..files import is_regular, read_small_json, small_int
from .layout import CKPT_RE, DEFAULT_ROOT
from .lock import MAX_PID
from .records import RUN_MARK, STATUSES

if TYPE_CHECKING:  # the class these methods are part of, for the annotations only
    from . import Run

#: config.json keys every gankit run has had, with their types (0.1 and 0.2 runs are
#: recognised by them together with a gankit checkpoint or status.json)
LEGACY_CONFIG_KEYS = {"gankit_version": str, "model": str, "options": dict}


def _gankit_checkpoint_header(path: Path) -> bool:
    """A safetensors header that says gankit wrote the file (read only the header)."""
    try:
        meta = read_header(path)  # the header's metadata, checked; pipes refused
    except CheckpointError:
        return False
    return isinstance(meta, dict) and isinstance(meta.get("gankit.format"), str)


@dataclass
class Located:
    """What a command-line target means: ``kind`` is "run" (a run folder), "checkpoint"
    (a .safetensors file; ``run`` is its run or None for a loose one) or "runs" (a
    folder of runs: ``run`` is its newest)."""

    kind: str
    run: "Run | None"
    checkpoint: Path | None = None


class RunLocating:
    """What a folder is, and which run a target means; the class methods of
    :class:`gankit.run.Run` that find runs."""

    @classmethod
    def is_run(cls, path) -> bool:
        """A folder gankit made: see the module's docstring for the rule."""
        return cls.recognise(path) is not None

    @classmethod
    def recognise(cls, path) -> str | None:
        """"marked" (config.json carries gankit's run marker), "legacy" (a 0.1/0.2 run:
        gankit's config keys plus a gankit checkpoint or status.json), "locked" (no
        config.json yet, but a live process holds run.lock: never cleaned), or None."""
        p = Path(path)
        try:
            if not p.is_dir():
                return None
        except OSError:
            return None
        doc = read_small_json(p / "config.json")
        if not isinstance(doc, dict):
            # a run training now that has not written config.json yet (loading its data)
            lock = read_small_json(p / "run.lock")
            if (isinstance(lock, dict) and small_int(lock.get("pid"), 1, MAX_PID) is not None
                    and cls(p).lock_holder() is not None):
                return "locked"
            return None
        if small_int(doc.get(RUN_MARK), 1, 1000) is not None:
            return "marked"
        if not all(isinstance(doc.get(k), t) for k, t in LEGACY_CONFIG_KEYS.items()):
            return None
        run = cls(p)
        st = run.read_status()
        if st.get("status") in STATUSES:
            return "legacy"
        if any(_gankit_checkpoint_header(c) for c in run.checkpoints()[-3:]):
            return "legacy"
        return None

    @classmethod
    def locate(cls, target=None, root=DEFAULT_ROOT, *, flag: str = "") -> Located:
        """The one resolution rule (see the module's docstring)."""
        root = Path(root)
        label = f"{flag} {target}" if flag else f"{target}"
        if target is None or str(target) == "":
            if target is not None:
                raise UsageError(f"{flag or 'RUN'} '': an empty path; give a run folder or name")
            return Located("run", cls.newest(root))
        t = str(target)
        p = Path(t)
        if "/" not in t and "\\" not in t and t not in (".", ".."):
            under = root / t
            if cls.is_run(under):
                here = Path(t)
                here_means = cls.is_run(here) or (here.is_file() and here.suffix == ".safetensors")
                try:
                    same = here.exists() and here.resolve() == under.resolve()
                except OSError:
                    same = False
                if here_means and not same:
                    raise GankitError(
                        f"{label}: ambiguous: both ./{t} and {under} exist; write ./{t} "
                        f"or {under}")
                return Located("run", cls(under))
        if not p.exists():
            raise GankitError(f"{label}: no such run folder or checkpoint (neither a path "
                              f"nor a run under {root}/); list them with `gankit runs`")
        if p.is_dir():
            if cls.is_run(p):
                return Located("run", cls(p))
            try:
                subs = [d for d in p.iterdir() if d.is_dir() and cls.is_run(d)]
            except OSError:
                subs = []
            if any(cls(d).checkpoints() for d in subs):
                return Located("runs", cls.newest(p))
            raise GankitError(f"{label}: not a gankit run (no config.json written by gankit "
                              "in it)")
        if not is_regular(p):
            raise GankitError(f"{label}: not a regular file")
        run = cls.of_checkpoint(p)
        if run is not None:
            return Located("checkpoint", run, p)
        if p.parent.name == "checkpoints" and cls.is_run(p.parent.parent):
            raise GankitError(f"{label}: not a checkpoint of {p.parent.parent} (its "
                              "checkpoints are named step-NNNNNNN.safetensors)")
        if p.suffix.lower() == ".safetensors":
            return Located("checkpoint", None, p)
        raise GankitError(f"{label}: not a run folder or a .safetensors checkpoint")

    @classmethod
    def find(cls, target=None, root=DEFAULT_ROOT, *, flag: str = "") -> "Run":
        """The run folder a target names (a run, a name under ``root``, or one of a run's
        checkpoints); loose checkpoints and folders of runs are refused."""
        loc = cls.locate(target, root, flag=flag)
        label = f"{flag} {target}" if flag else f"{target}"
        if loc.run is None:
            raise GankitError(f"{label}: a checkpoint outside any run folder; give a run "
                              "folder (RUN/checkpoints/ holds its checkpoints)")
        if loc.kind == "runs":
            raise GankitError(f"{label}: a folder of runs; name one run in it")
        return loc.run

    @classmethod
    def of_checkpoint(cls, path) -> "Run | None":
        """The run a checkpoint file belongs to: RUN/checkpoints/step-N.safetensors."""
        p = Path(path)
        if (p.parent.name == "checkpoints" and CKPT_RE.match(p.name)
                and cls.is_run(p.parent.parent)):
            return cls(p.parent.parent)
        return None

    @classmethod
    def newest(cls, root=DEFAULT_ROOT) -> "Run":
        root = Path(root)
        try:
            runs = ([cls(p) for p in root.glob("*/") if cls(p).checkpoints() and cls.is_run(p)]
                    if root.is_dir() else [])
        except OSError:
            runs = []
        if not runs:
            raise GankitError(
                f"no trained run under {root}; train one with `gankit train dcgan` "
                "or pass a run folder or .safetensors file"
            )
        return max(runs, key=lambda r: max(c.stat().st_mtime for c in r.checkpoints()))

    @classmethod
    def find_checkpoint(cls, target=None, root=DEFAULT_ROOT):
        """What a command that reads weights was given: a run folder (its newest readable
        checkpoint), a folder of runs (its newest run), a .safetensors file, or nothing
        (the newest run under ``root``). Returns a :class:`gankit.Checkpoint`."""

        loc = cls.locate(target or None, root)
        if loc.kind == "checkpoint":
            return Checkpoint(loc.checkpoint)
        run = loc.run
        if not run.checkpoints():
            raise GankitError(f"{run.path}: not a trained gankit run (no "
                              "checkpoints/step-*.safetensors in it)")
        c = run.latest_loadable()
        if c is None:
            raise CheckpointError(f"{run.path}: none of its checkpoints can be read")
        return c

    @classmethod
    def for_resume(cls, target: str):
        """``--resume``: a run folder or a checkpoint file -> (run, checkpoint). The run is
        None for a file that is not inside a run's checkpoints/ (see :func:`not_a_run`)."""

        p = Path(target)
        if not p.exists():
            raise GankitError(f"--resume {target}: no such run folder or checkpoint")
        if p.is_dir():
            run = cls(p)
            found = run.checkpoints()
            if not found:
                raise GankitError(f"--resume {target}: no checkpoints in {run.checkpoints_dir}")
            if not cls.is_run(p):
                raise GankitError(f"--resume {target}: not a gankit run folder (no config.json "
                                  "written by gankit in it)")
            c = run.latest_loadable()
            if c is None:
                raise CheckpointError(f"--resume {target}: none of its checkpoints can be read")
            if c.path != found[-1]:
                console.warn(f"{found[-1]} is damaged; resuming from {c.path.name}")
            return run, c
        return cls.of_checkpoint(p), Checkpoint(p)


def not_a_run(target) -> GankitError:
    """A loose checkpoint cannot be resumed in place: resuming writes into the run folder,
    and an arbitrary folder is not one."""
    return GankitError(
        f"--resume {target}: not a checkpoint inside a run folder (RUN/checkpoints/); copy it "
        "into a run's checkpoints/ folder to continue it, or sample from it with `gankit sample`"
    )
