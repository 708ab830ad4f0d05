"""Everything gankit prints to a person: one stderr console, warnings, progress bars."""

from __future__ import annotations

import os
import sys

_console = None
_quiet = False
_debug = os.environ.get("GANKIT_DEBUG", "") not in ("", "0")


def console():
    """The rich Console on stderr (stdout stays clean for --json and data)."""
    global _console
    if _console is None:
        from rich.console import Console

        _console = Console(stderr=True, highlight=False)
    return _console


def set_quiet(value: bool) -> None:
    global _quiet
    _quiet = bool(value)


def is_quiet() -> bool:
    return _quiet


def set_debug(value: bool) -> None:
    global _debug
    _debug = bool(value)


def is_debug() -> bool:
    return _debug


def _plain(prefix: str, message: str) -> None:
    # plain print: a warning must be one line whatever the terminal width
    print(f"{prefix}{message}", file=sys.stderr, flush=True)


def warn(message: str) -> None:
    """One warning line on stderr (shown even with --quiet)."""
    _plain("Warning: ", message)


def error(message: str) -> None:
    _plain("Error: ", message)


def info(message: str) -> None:
    """A status line on stderr, silenced by --quiet."""
    if not _quiet and os.environ.get("RANK", "0") == "0":  # under torchrun: the main process
        _plain("", message)


def progress(*, transient: bool = False, disable: bool = False):
    """A rich Progress with step/total, it/s, ETA and a free text field for losses.

    Disabled (no output at all) with --quiet.
    """
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]}"),
        TimeElapsedColumn(),
        TextColumn("eta"),
        TimeRemainingColumn(),
        TextColumn("{task.fields[info]}"),
        console=console(),
        disable=_quiet or disable,
        transient=transient,
        refresh_per_second=4,
    )


class lazy_progress:
    """A ``progress(done, total)`` callback whose bar appears only once work is reported.

    Use as a context manager; nothing is printed when the callback is never called (for
    example when a loader fails early or reads a cache).
    """

    def __init__(self, description: str):
        self.description = description
        self._prog = None
        self._task = None

    def __call__(self, done: int, total: int | None = None) -> None:
        if self._prog is None:
            # a bar that vanishes when done leaves nothing on a stderr that is not a
            # terminal but the blank line rich ends it with (which came before the one
            # line of an error raised after loading): no bar there
            self._prog = progress(transient=True, disable=not console().is_terminal)
            self._prog.start()
            self._task = self._prog.add_task(self.description, total=total, rate="", info="")
        self._prog.update(self._task, completed=done, total=total)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self._prog is not None:
            self._prog.stop()
        return False
