"""Running ``gankit ARGS...`` in-process with a given plugin manager."""

from __future__ import annotations

from .. import console
from .. import plugins as plugins_mod
from .base import builtin_plugins


def run_cli(args, plugins=None, *, input=None):
    """Run ``gankit ARGS...`` in-process with ``plugins`` as the process-wide plugin
    manager (default: :func:`builtin_plugins`). Returns click's ``Result``:
    ``exit_code``, ``stdout``, ``stderr``, ``output``, ``exception``."""
    from click.testing import CliRunner

    from ..cli import make_cli  # the commands (click and every command) only when one runs

    p = plugins if plugins is not None else builtin_plugins()
    previous = plugins_mod._plugins
    quiet, debug = console.is_quiet(), console.is_debug()
    plugins_mod.set_plugins(p)
    try:
        return CliRunner().invoke(make_cli(p), [str(a) for a in args], input=input)
    finally:
        plugins_mod.set_plugins(previous)
        console.set_quiet(quiet)
        console.set_debug(debug)
