"""Append-only log files (JSON lines or CSV) that survive crashes and resumes.

Whole files are written with :func:`gankit.atomic_write`; a log that grows by one
record per step is appended to instead, one line per record:

- :func:`append_line` writes a line with a single ``write`` and flushes it, so two
  writers or a crash cannot interleave or half-write two records (a crash can at most
  leave the last line torn: without its newline);
- :func:`trim_lines` rewrites a log (atomically) without torn lines and without the
  lines a predicate refuses;
- :class:`StepLog` does both for records with a ``step`` key: ``append(record)``, and
  ``trim(step)`` on resume, which drops records past the resumed step and a torn last
  line, as gankit does for ``metrics.jsonl``.

No torch, no numpy: importing it is cheap.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from .files import atomic_write

__all__ = ["append_line", "trim_lines", "StepLog"]


def append_line(path, text: str) -> None:
    """Append ``text`` as one line (a newline is added unless it ends with one), with a
    single write, then flush to the operating system. ``text`` must not contain other
    newlines (ValueError)."""
    line = text if text.endswith("\n") else text + "\n"
    if "\n" in line[:-1] or "\r" in line[:-1]:
        raise ValueError("append_line() writes one line; the text contains a line break")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # unbuffered binary append: the whole line in one write() call (O_APPEND puts it at
    # the end even with another writer), no newline translation, nothing left in a buffer
    try:
        with open(path, "ab", buffering=0) as fh:
            fh.write(line.encode("utf-8"))
    except OSError as exc:
        if exc.filename is None:  # a failed write (a full disk) does not name the file
            raise OSError(exc.errno, exc.strerror or str(exc), str(path)) from exc
        raise


def trim_lines(path, keep) -> int:
    """Drop torn lines (the last one when it has no newline) and every line for which
    ``keep(line_without_newline, index)`` is false; rewrite ``path`` atomically if
    anything changed. Returns the number of lines dropped (0 for a missing file)."""
    path = Path(path)
    if not path.exists():
        return 0
    raw = path.read_text(encoding="utf-8", errors="replace")
    kept, dropped = [], 0
    for i, line in enumerate(raw.splitlines(keepends=True)):
        if line.endswith("\n") and keep(line.rstrip("\r\n"), i):
            kept.append(line)
        else:
            dropped += 1
    if dropped:
        text = "".join(kept)
        atomic_write(path, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))
    return dropped


def _step_of(value):
    try:
        step = int(float(value))
    except (TypeError, ValueError, OverflowError):
        return None
    return step


class StepLog:
    """A log of records that each carry a step, as JSON lines or CSV.

    :param path: the file; its suffix picks the format (``.csv`` -> CSV, anything else
        -> JSON lines) unless ``format`` (``"jsonl"`` or ``"csv"``) says otherwise.
    :param fields: CSV columns; default: the existing header, else the first record's
        keys. Later records' keys that are not columns are left out, missing ones are
        written empty. The step column must be among them.
    :param step_key: the key holding the step (default ``"step"``).

    Typical use in a plugin's hooks (main process only)::

        @hookimpl
        def on_train_start(trainer):
            if trainer.is_main:
                StepLog(trainer.run_dir / "losses.csv").trim(trainer.step)

        @hookimpl
        def on_log(trainer, step, metrics):
            StepLog(trainer.run_dir / "losses.csv").append({"step": step, **metrics})
    """

    def __init__(self, path, *, format: str | None = None, fields=None, step_key: str = "step"):
        self.path = Path(path)
        fmt = format or ("csv" if self.path.suffix.lower() == ".csv" else "jsonl")
        if fmt not in ("csv", "jsonl"):
            raise ValueError(f"StepLog format must be 'csv' or 'jsonl', not {format!r}")
        self.format = fmt
        self.step_key = step_key
        self.fields = list(fields) if fields else None

    # -- CSV helpers ------------------------------------------------------------------
    def _header(self):
        """The CSV header of the file, or None when the file has no complete first line."""
        try:
            with open(self.path, encoding="utf-8", newline="") as fh:
                first = fh.readline()
        except FileNotFoundError:
            return None
        if not first.endswith("\n"):
            return None
        return next(csv.reader([first.rstrip("\r\n")]), None)

    @staticmethod
    def _csv_line(values) -> str:
        buf = io.StringIO()
        csv.writer(buf, lineterminator="\n").writerow(values)
        return buf.getvalue()

    # -- writing ----------------------------------------------------------------------
    def append(self, record: dict) -> None:
        """Append one record (a dict holding the step) as one line."""
        if self.step_key not in record:
            raise ValueError(f"StepLog record has no '{self.step_key}': {sorted(record)}")
        if self.format == "jsonl":
            append_line(self.path, json.dumps(record, default=str))
            return
        header = self._header()
        if header is None:
            if self.path.exists() and self.path.stat().st_size:
                self.trim(None)  # a torn header: start the file again
                header = self._header()
        if header is None:
            header = self.fields or list(record)
            if self.step_key not in header:
                raise ValueError(f"StepLog fields must include '{self.step_key}'")
            append_line(self.path, self._csv_line(header))
        self.fields = header
        append_line(self.path, self._csv_line(["" if record.get(k) is None else record.get(k)
                                               for k in header]))

    def trim(self, step: int | None) -> int:
        """Drop torn lines and records whose step is greater than ``step`` (None: keep
        every step), e.g. ``trim(trainer.step)`` when a run resumes. Returns the number
        of lines dropped."""
        if self.format == "jsonl":
            def keep(line, i):
                try:
                    rec = json.loads(line)
                except ValueError:
                    return False
                if not isinstance(rec, dict):
                    return False
                s = _step_of(rec.get(self.step_key))
                return s is not None and (step is None or s <= step)
            return trim_lines(self.path, keep)

        header = self._header()
        if header is None:  # no complete header: nothing worth keeping
            return trim_lines(self.path, lambda line, i: False)
        try:
            col = header.index(self.step_key)
        except ValueError:
            col = None

        def keep_row(line, i):
            if i == 0:
                return True
            row = next(csv.reader([line]), [])
            if len(row) != len(header):
                return False
            if col is None:
                return True
            s = _step_of(row[col])
            return s is not None and (step is None or s <= step)
        return trim_lines(self.path, keep_row)

    # -- reading ----------------------------------------------------------------------
    def records(self) -> list[dict]:
        """The complete records in the file (torn lines skipped). CSV values are strings."""
        if not self.path.exists():
            return []
        text = self.path.read_text(encoding="utf-8", errors="replace")
        lines = [ln for ln in text.splitlines(keepends=True) if ln.endswith("\n")]
        if self.format == "jsonl":
            out = []
            for line in lines:
                try:
                    rec = json.loads(line)
                except ValueError:
                    continue
                if isinstance(rec, dict):
                    out.append(rec)
            return out
        rows = list(csv.reader([ln.rstrip("\r\n") for ln in lines]))
        if not rows:
            return []
        header = rows[0]
        return [dict(zip(header, r)) for r in rows[1:] if len(r) == len(header)]
