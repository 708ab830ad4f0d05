"""What a run records: ``config.json``, ``status.json`` (corrected by the lock),
``metrics.jsonl`` and the results of ``gankit evaluate`` in ``metrics/``."""

from __future__ import annotations

import json
import time
from pathlib import Path

from ..errors import GankitError
from ..files import (MAX_METRICS_FILE, as_float, finite_number, is_regular, parse_json,
                     read_regular, read_small_json, small_int, write_json)
from ..logfiles import append_line, trim_lines
from .layout import EVAL_RE

STATUSES = ("running", "completed", "interrupted", "failed", "diverged")
#: the marker config.json carries (runs of 0.1 and 0.2 lack it): only gankit writes it
RUN_MARK = "gankit_run"
RUN_FORMAT = 1


class RunRecords:
    """Reading and writing a run's records; part of :class:`gankit.run.Run`."""

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

    @staticmethod
    def loss_keys(records) -> list[str]:
        """The ``loss_*`` keys holding a number in some metrics records (:meth:`metrics`),
        ``loss_d`` and ``loss_g`` first, then the others by name."""
        seen: dict[str, None] = {}
        for rec in records:
            for k, v in rec.items():
                if k.startswith("loss_") and as_float(v) is not None:
                    seen.setdefault(k)
        order = {"loss_d": 0, "loss_g": 1}
        return sorted(seen, key=lambda k: (order.get(k, 2), k))

    @staticmethod
    def series(records, key: str) -> tuple[list[int], list[float]]:
        """(steps, values) of one metric of some metrics records; records without a number
        for it are left out."""
        steps, vals = [], []
        for rec in records:
            v = as_float(rec.get(key))
            if v is not None:
                steps.append(rec["step"])
                vals.append(v)
        return steps, vals

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


def trim_jsonl(path: Path, step: int) -> None:
    """Keep the complete JSON lines of ``path`` whose ``step`` is at most ``step``."""

    def keep(line: str, _i: int) -> bool:
        rec = parse_json(line)
        return (isinstance(rec, dict) and small_int(rec.get("step"), 0, 10**15) is not None
                and rec["step"] <= step)

    trim_lines(path, keep)
