"""A run folder and everything that knows its layout.

::

    RUN/
      config.json          what the run was started with (options, model config, data)
      status.json          running / completed / interrupted / failed / diverged, step
      run.lock             present while a process trains the run (its pid and host)
      metrics.jsonl        one line of averaged losses per log interval
      samples/             step-NNNNNN.png preview grids
      checkpoints/         step-NNNNNNN.safetensors
      directions/          NAME.safetensors latent attribute directions
      metrics/             eval-step-NNNNNNN.json from `gankit evaluate`

Commands and the trainer go through :class:`Run`; nothing else builds these paths. Which
run a path on the command line means (a run folder, a checkpoint inside one, a folder of
runs) is decided here too.
"""

from __future__ import annotations

import json
import os
import re
import socket
import time
from pathlib import Path

from . import console
from .errors import CheckpointError, GankitError, UsageError
from .files import is_temp, write_json
from .logfiles import append_line, trim_lines

DEFAULT_ROOT = Path("runs")
CKPT_RE = re.compile(r"^step-(\d+)\.safetensors$")
STATUSES = ("running", "completed", "interrupted", "failed", "diverged")
#: what a run folder may hold (an existing --name folder with anything else is refused)
RUN_FILES = {"config.json", "status.json", "run.lock", "metrics.jsonl", "samples",
             "checkpoints", "directions", "metrics", "tensorboard"}


def check_name(name: str, flag: str = "--name") -> str:
    """A run name is one plain folder name: never a path that leaves ``--out``."""
    bad = (not name or name in (".", "..") or "/" in name or "\\" in name or "\0" in name
           or name != name.strip() or len(name) > 200 or Path(name).is_absolute())
    if bad:
        raise UsageError(f"{flag} {name!r}: must be a plain folder name (letters, digits, "
                         "- _ .; no / or ..), created inside --out")
    return name


def pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, owned by someone else
        return True
    except OSError:
        return False
    return True


class Run:
    """One run folder. Create it with :meth:`new`; find it with :meth:`for_resume`,
    :meth:`find_checkpoint` or :meth:`newest`."""

    def __init__(self, path):
        self.path = Path(path)
        self._locked = False

    def __repr__(self) -> str:
        return f"Run({str(self.path)!r})"

    def __fspath__(self) -> str:
        return str(self.path)

    # -- layout --------------------------------------------------------------------------
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

    def sample_path(self, step: int) -> Path:
        return self.samples_dir / f"step-{step:06d}.png"

    def checkpoint_path(self, step: int) -> Path:
        return self.checkpoints_dir / f"step-{step:07d}.safetensors"

    def eval_path(self, step: int) -> Path:
        return self.eval_dir / f"eval-step-{step:07d}.json"

    def sample_grids(self) -> list[tuple[int, Path]]:
        """(step, path) of the preview grids, oldest first."""
        if not self.samples_dir.is_dir():
            return []
        found = []
        for p in self.samples_dir.glob("step-*.png"):
            m = re.fullmatch(r"step-(\d+)\.png", p.name)
            if m:
                found.append((int(m.group(1)), p))
        return sorted(found)

    # -- what a folder is ------------------------------------------------------------------
    @staticmethod
    def is_run(path) -> bool:
        p = Path(path)
        return p.is_dir() and ((p / "config.json").is_file() or bool(Run(p).checkpoints()))

    @classmethod
    def of_checkpoint(cls, path) -> "Run | None":
        """The run a checkpoint file belongs to: RUN/checkpoints/step-N.safetensors."""
        p = Path(path)
        if p.parent.name == "checkpoints" and cls.is_run(p.parent.parent):
            return cls(p.parent.parent)
        return None

    @classmethod
    def newest(cls, root=DEFAULT_ROOT) -> "Run":
        root = Path(root)
        runs = [cls(p) for p in root.glob("*/") if cls(p).checkpoints()] if root.is_dir() else []
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
        from .checkpoints import Checkpoint

        p = Path(target) if target else cls.newest(root).path
        if not p.exists():
            raise GankitError(f"{p}: no such run folder or checkpoint")
        if p.is_dir():
            run = cls(p)
            if not run.checkpoints() and any(cls(d).checkpoints() for d in p.glob("*/")):
                run = cls.newest(p)  # a folder of runs: its newest
            if not run.checkpoints():
                raise GankitError(f"{p}: not a gankit run (no checkpoints/step-*.safetensors in it)")
            c = run.latest_loadable()
            if c is None:
                raise CheckpointError(f"{run.path}: none of its checkpoints can be read")
            return c
        return Checkpoint(p)

    @classmethod
    def for_resume(cls, target: str):
        """``--resume``: a run folder or a checkpoint file -> (run, checkpoint). The run is
        None for a file that is not inside a run's checkpoints/ (see :func:`not_a_run`)."""
        from .checkpoints import Checkpoint

        p = Path(target)
        if not p.exists():
            raise GankitError(f"--resume {target}: no such run folder or checkpoint")
        if p.is_dir():
            run = cls(p)
            found = run.checkpoints()
            if not found:
                raise GankitError(f"--resume {target}: no checkpoints in {run.checkpoints_dir}")
            c = run.latest_loadable()
            if c is None:
                raise CheckpointError(f"--resume {target}: none of its checkpoints can be read")
            if c.path != found[-1]:
                console.warn(f"{found[-1]} is damaged; resuming from {c.path.name}")
            return run, c
        return cls.of_checkpoint(p), Checkpoint(p)

    # -- creating --------------------------------------------------------------------------
    @classmethod
    def new(cls, out, name: str | None, model: str) -> "Run":
        """A fresh folder under ``out``: ``name``, or MODEL-TIMESTAMP (suffixed when taken).
        An existing run is never reused: that is what ``--resume`` is for."""
        out = Path(out)
        writable_dir(out, "--out")
        if name is not None:
            check_name(name)
            run = cls(out / name)
            if run.path.exists() and not run.path.is_dir():
                raise GankitError(f"--name {name}: {run.path} is a file; pick another --name")
            if run.lock_holder() is not None:
                raise GankitError(f"--name {name}: {run.path} is being trained by another "
                                  "process; wait for it or pick another --name")
            if run.checkpoints():
                raise GankitError(
                    f"--name {name}: {run.path} already holds a run; continue it with "
                    f"`gankit train --resume {run.path}` or pick another --name"
                )
            if run.path.is_dir() and any(p for p in run.path.iterdir()
                                         if p.name not in RUN_FILES and not p.name.startswith(".")):
                raise GankitError(f"--name {name}: {run.path} exists and is not a gankit run; "
                                  "pick another --name")
            # a new folder, or a run that never reached its first checkpoint: start it over
            run.path.mkdir(exist_ok=True)
            return run
        base = f"{model}-{time.strftime('%Y%m%d-%H%M%S')}"
        for i in range(10_000):
            path = out / (base if i == 0 else f"{base}-{i}")
            try:
                path.mkdir()
                return cls(path)
            except FileExistsError:
                continue
        raise GankitError(f"--out {out}: could not pick a free run folder name")

    def prepare_folders(self) -> None:
        writable_dir(self.path, "--out")
        self.samples_dir.mkdir(exist_ok=True)
        self.checkpoints_dir.mkdir(exist_ok=True)

    # -- the lock --------------------------------------------------------------------------
    def lock_holder(self) -> dict | None:
        """The live process training this run, or None (no lock, or a stale one)."""
        info = read_small_json(self.lock_path)
        if info is None:  # missing, or a writer between creating and filling it
            try:
                young = time.time() - self.lock_path.stat().st_mtime < 60
            except OSError:
                return None
            return {"pid": None, "host": None, "started": None} if young else None
        try:
            pid, host = int(info["pid"]), str(info.get("host", ""))
        except (ValueError, KeyError, TypeError, AttributeError):
            return None
        if host and host != socket.gethostname():
            return info  # another machine's process: cannot tell, assume it is alive
        return info if pid_alive(pid) else None

    def lock(self) -> None:
        """Keep other processes out while this one trains; a stale lock is taken over."""
        doc = json.dumps({"pid": os.getpid(), "host": socket.gethostname(),
                          "started": time.time()})
        for _ in range(3):
            try:
                fd = os.open(self.lock_path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666)
            except FileExistsError:
                holder = self.lock_holder()
                if holder is not None and int(holder.get("pid", -1)) != os.getpid():
                    raise GankitError(
                        f"{self.path}: being trained by process {holder.get('pid')} on "
                        f"{holder.get('host') or 'this machine'}; wait for it to finish or stop "
                        f"it, or train a new run"
                    ) from None
                try:
                    self.lock_path.unlink()  # stale: its process is gone
                except FileNotFoundError:
                    pass
                continue
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(doc)
            self._locked = True
            return
        raise GankitError(f"{self.path}: could not take the run lock {self.lock_path}")

    def unlock(self) -> None:
        if not self._locked:
            return
        self._locked = False
        try:
            info = json.loads(self.lock_path.read_text(encoding="utf-8"))
            if int(info.get("pid", -1)) == os.getpid():
                self.lock_path.unlink()
        except (OSError, ValueError, TypeError):
            pass

    # -- files -------------------------------------------------------------------------------
    def write_config(self, doc: dict) -> None:
        write_json(self.config_path, doc)

    def read_config(self) -> dict:
        doc = read_small_json(self.config_path)
        return doc if isinstance(doc, dict) else {}

    def write_status(self, status: str, step: int, total: int, *, started: float,
                     message: str | None = None) -> None:
        write_json(self.status_path, {"status": status, "step": int(step),
                                      "total_steps": int(total), "started": started,
                                      "updated": time.time(), "message": message})

    def read_status(self) -> dict:
        doc = read_small_json(self.status_path)
        return doc if isinstance(doc, dict) else {}

    def newest_step(self) -> int | None:
        found = self.checkpoints()
        return int(CKPT_RE.match(found[-1].name).group(1)) if found else None

    def status(self, config: dict | None = None) -> dict:
        """``{"status", "step", "total_steps", "message"}`` from status.json, corrected
        by the lock (a "running" run whose process is gone was interrupted); a run without
        status.json (gankit 0.1.0) is completed when its newest checkpoint reached the
        asked steps, else interrupted."""
        config = self.read_config() if config is None else config
        options = config.get("options") if isinstance(config.get("options"), dict) else {}
        total = options.get("steps") if isinstance(options.get("steps"), int) else None
        step = self.newest_step()
        alive = self.lock_holder() is not None
        st = self.read_status()
        if st.get("status") in STATUSES:
            status = st["status"]
            if alive:
                status = "running"  # a process holds the run now
            elif status == "running":
                status = "interrupted"  # the training process is gone
            return {"status": status,
                    "step": st["step"] if isinstance(st.get("step"), int) else step,
                    "total_steps": (st["total_steps"] if isinstance(st.get("total_steps"), int)
                                    else total),
                    "message": st.get("message") if isinstance(st.get("message"), str) else None}
        if alive:
            status = "running"
        elif step is not None and total is not None and step >= total:
            status = "completed"
        else:
            status = "interrupted"
        return {"status": status, "step": step, "total_steps": total, "message": None}

    def append_metrics(self, record: dict) -> None:
        append_line(self.metrics_path, json.dumps(record))

    def trim_metrics(self, step: int) -> None:
        """On (re)start: drop torn lines and lines past ``step`` so no step appears twice."""
        trim_jsonl(self.metrics_path, step)

    # -- checkpoints -----------------------------------------------------------------------
    def checkpoints(self) -> list[Path]:
        d = self.checkpoints_dir
        if not d.is_dir():
            return []
        found = [(int(m.group(1)), p) for p in d.iterdir() if (m := CKPT_RE.match(p.name))]
        return [p for _, p in sorted(found)]

    def latest_loadable(self, max_step: int | None = None):
        """The newest checkpoint that parses (at most ``max_step``), skipping damaged ones."""
        from .checkpoints import Checkpoint

        for p in reversed(self.checkpoints()):
            try:
                c = Checkpoint(p)
            except CheckpointError:
                continue
            if max_step is None or c.step <= max_step:
                return c
        return None

    def prune(self, keep_last: int, keep=()) -> list[Path]:
        """Delete all but the newest ``keep_last`` checkpoints (0 keeps all); never one in
        ``keep`` (the one just written, the one a message names)."""
        if keep_last <= 0:
            return []
        keep = {Path(k).resolve() for k in keep}
        old = [p for p in self.checkpoints()[:-keep_last] if p.resolve() not in keep]
        for p in old:
            try:
                p.unlink()
            except OSError:
                pass
        return old

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


def read_small_json(path: Path, limit: int = 1 << 20):
    """A small JSON file's content, or None when it is missing, too large or malformed."""
    try:
        if Path(path).stat().st_size > limit:
            return None
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError, UnicodeDecodeError):
        return None


def not_a_run(target) -> GankitError:
    """A loose checkpoint cannot be resumed in place: resuming writes into the run folder,
    and an arbitrary folder is not one."""
    return GankitError(
        f"--resume {target}: not a checkpoint inside a run folder (RUN/checkpoints/); copy it "
        "into a run's checkpoints/ folder to continue it, or sample from it with `gankit sample`"
    )


def trim_jsonl(path: Path, step: int) -> None:
    """Keep the complete JSON lines of ``path`` whose ``step`` is at most ``step``."""

    def keep(line: str, _i: int) -> bool:
        try:
            rec = json.loads(line)
            return isinstance(rec, dict) and int(rec.get("step", -1)) <= step
        except (ValueError, TypeError):
            return False

    trim_lines(path, keep)


def writable_dir(path: Path, flag: str) -> None:
    """Create ``path`` or fail with one line naming the flag."""
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / f".gankit-write-test-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise GankitError(f"{flag} {path}: not writable ({exc.strerror or exc})") from None
