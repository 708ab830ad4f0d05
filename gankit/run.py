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
run a path on the command line means is decided here too, by :meth:`Run.locate` (the one
rule every command uses):

1. nothing given: the newest run under ``--out``;
2. a bare name (no ``/``) of a run under ``--out``: that run; when ``./NAME`` is also a
   run or a checkpoint (another folder), the name is ambiguous and refused;
3. otherwise a path: a run folder; a ``RUN/checkpoints/step-N.safetensors`` file (that run,
   at that checkpoint); another ``.safetensors`` file (a loose checkpoint, for commands
   that only read weights); a folder whose subfolders are runs (its newest run, for
   commands that only read);
4. anything else is refused.

A folder is a run only when it holds what gankit alone writes: a ``config.json`` carrying
``"gankit_run": 1``, or, for runs written before the marker (0.1, 0.2), a ``config.json``
with gankit's own keys (``gankit_version``, ``model``, ``options``) together with a
checkpoint whose header is gankit's or a ``status.json`` gankit wrote. Files gankit did
not write are never deleted (:meth:`Run.owned_files`).
"""

from __future__ import annotations

import json
import os
import re
import socket
import time
from dataclasses import dataclass
from pathlib import Path

from . import console
from .checkpoints import Checkpoint, read_header
from .errors import CheckpointError, GankitError, UsageError
from .files import (MAX_METRICS_FILE, as_float, finite_number, is_regular, is_temp, parse_json,
                    read_regular, read_small_json, small_int, write_json)
from .logfiles import append_line, trim_lines

DEFAULT_ROOT = Path("runs")
CKPT_RE = re.compile(r"^step-(\d+)\.safetensors$")
EVAL_RE = re.compile(r"^eval-step-(\d+)\.json$")
STATUSES = ("running", "completed", "interrupted", "failed", "diverged")
#: what a run folder may hold (an existing --name folder with anything else is refused)
RUN_FILES = {"config.json", "status.json", "run.lock", "metrics.jsonl", "samples",
             "checkpoints", "directions", "metrics", "tensorboard", "encoder.safetensors"}
#: the marker config.json carries (runs of 0.1 and 0.2 lack it): only gankit writes it
RUN_MARK = "gankit_run"
RUN_FORMAT = 1
#: config.json keys every gankit run has had, with their types (0.1 and 0.2 runs are
#: recognised by them together with a gankit checkpoint or status.json)
LEGACY_CONFIG_KEYS = {"gankit_version": str, "model": str, "options": dict}
MAX_PID = 1 << 22                # Linux's pid_max limit
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


def pid_alive(pid: int) -> bool:
    if not isinstance(pid, int) or pid <= 0 or pid > MAX_PID:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, owned by someone else
        return True
    except (OSError, OverflowError, ValueError):
        return False
    return True


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


class Run:
    """One run folder. Create it with :meth:`new`; find it with :meth:`find` (or
    :meth:`locate`), :meth:`for_resume`, :meth:`find_checkpoint` or :meth:`newest`."""

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

    # -- what a folder is ------------------------------------------------------------------
    @staticmethod
    def is_run(path) -> bool:
        """A folder gankit made: see the module's docstring for the rule."""
        return Run.recognise(path) is not None

    @staticmethod
    def recognise(path) -> str | None:
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
                    and Run(p).lock_holder() is not None):
                return "locked"
            return None
        if small_int(doc.get(RUN_MARK), 1, 1000) is not None:
            return "marked"
        if not all(isinstance(doc.get(k), t) for k, t in LEGACY_CONFIG_KEYS.items()):
            return None
        run = Run(p)
        st = run.read_status()
        if st.get("status") in STATUSES:
            return "legacy"
        if any(_gankit_checkpoint_header(c) for c in run.checkpoints()[-3:]):
            return "legacy"
        return None

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

    # -- which run a command-line target means --------------------------------------------
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
            if run.path.is_dir() and not cls.is_run(run.path) and any(
                    p for p in run.path.iterdir()
                    if not p.name.startswith(".") and p.name != "run.lock"
                    and not (p.is_dir() and p.name in RUN_FILES and not any(p.iterdir()))):
                raise GankitError(f"--name {name}: {run.path} exists and is not a gankit run; "
                                  "pick another --name")
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
        if not isinstance(info, dict):
            return None
        pid, host = small_int(info.get("pid"), 1, MAX_PID), info.get("host", "")
        if pid is None or not isinstance(host, str):
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
                if holder is not None and holder.get("pid") != os.getpid():
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
        info = read_small_json(self.lock_path)
        if isinstance(info, dict) and info.get("pid") == os.getpid():
            try:
                self.lock_path.unlink()
            except OSError:
                pass

    # -- files -------------------------------------------------------------------------------
    def write_config(self, doc: dict) -> None:
        """config.json, with the marker that tells a gankit run from any other folder."""
        write_json(self.config_path, {RUN_MARK: RUN_FORMAT, **doc})

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

    def metrics(self) -> list[dict]:
        """The records of metrics.jsonl in order, each with an int ``step``; torn, foreign
        or out-of-range lines are skipped (a regular file of at most 256 MB is read)."""
        raw = read_regular(self.metrics_path, MAX_METRICS_FILE)
        if raw is None:
            return []
        out = []
        for line in raw.decode("utf-8", errors="replace").splitlines():
            rec = parse_json(line)
            if not isinstance(rec, dict):
                continue
            step = rec.get("step")
            if isinstance(step, float) and step.is_integer() and abs(step) < 1e15:
                step = int(step)
            step = small_int(step, 0, 10**15)
            if step is None:
                continue
            rec["step"] = step
            out.append(rec)
        return out

    def evaluations(self) -> list[dict]:
        """``metrics/eval-step-N.json`` records (``gankit evaluate``), oldest step first:
        each with ``step``, ``metrics`` (finite numbers only) and ``file``."""
        try:
            listing = list(self.eval_dir.iterdir()) if self.eval_dir.is_dir() else []
        except OSError:
            return []
        found = []
        for p in listing:
            m = EVAL_RE.match(p.name)
            rec = read_small_json(p) if m else None
            if not isinstance(rec, dict) or not isinstance(rec.get("metrics"), dict):
                continue
            step = small_int(rec.get("step"), 0, 10**15)
            rec["step"] = step if step is not None else int(m.group(1))
            rec["metrics"] = {k: f for k, v in rec["metrics"].items()
                              if (f := as_float(v)) is not None}
            rec["file"] = str(p)
            found.append(rec)
        found.sort(key=lambda r: (r["step"], finite_number(r.get("time")) or 0.0))
        return found

    def append_metrics(self, record: dict) -> None:
        append_line(self.metrics_path, json.dumps(record))

    def trim_metrics(self, step: int) -> None:
        """On (re)start: drop torn lines and lines past ``step`` so no step appears twice.
        A metrics.jsonl that is not a regular file (a pipe, a device) is refused: reading
        or appending to it would block or never end."""
        p = self.metrics_path
        if (p.exists() or p.is_symlink()) and not is_regular(p):
            raise GankitError(f"{p}: not a regular file (a pipe, a device or a broken link); "
                              "move it away to continue the run")
        trim_jsonl(p, step)

    # -- checkpoints -----------------------------------------------------------------------
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

    def latest_loadable(self, max_step: int | None = None):
        """The newest checkpoint that parses (at most ``max_step``), skipping damaged ones."""
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
        rec = parse_json(line)
        return (isinstance(rec, dict) and small_int(rec.get("step"), 0, 10**15) is not None
                and rec["step"] <= step)

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
