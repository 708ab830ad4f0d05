"""The 0.1 names kept for outside callers: each use warns, gankit's own code never uses them.

A shim module defines no names of its own; its module ``__getattr__`` is
:func:`moved` (``__getattr__ = moved(__name__, {old: "new.module:name"})``), which
imports the name from its home and, when the caller is not gankit itself, raises a
:class:`DeprecationWarning` naming the new import. The 0.1 functions with no home of
their own are in :mod:`gankit.legacy`. This module imports nothing of gankit: the
lowest modules (gankit.checkpoints) use it.
"""

from __future__ import annotations

import importlib
import sys
import warnings


def _caller_module() -> str:
    """The module name of the first frame outside this file and importlib."""
    f = sys._getframe(2)
    while f is not None and (f.f_code.co_filename == __file__
                             or "importlib" in f.f_code.co_filename):
        f = f.f_back
    return str(f.f_globals.get("__name__", "")) if f is not None else ""


def _stacklevel() -> int:
    """The warning's stack level that points at the caller's line."""
    level, f = 2, sys._getframe(2)
    while f is not None and "importlib" in f.f_code.co_filename:
        level, f = level + 1, f.f_back
    return level


def moved(module: str, names: dict, hints: dict | None = None, quiet=()):
    """A module ``__getattr__`` for shim ``module``: ``names`` maps each old name to
    ``"home.module:name"``; ``hints``, old name -> what to write instead, where the
    name has no new home of its own; ``quiet``: names served without a warning."""

    def __getattr__(name: str):
        target = names.get(name)
        if target is None:
            raise AttributeError(f"module {module!r} has no attribute {name!r}")
        home, _, attr = target.partition(":")
        value = getattr(importlib.import_module(home), attr)
        caller = _caller_module()
        if name not in quiet and caller != "gankit" and not caller.startswith("gankit."):
            hint = (hints or {}).get(name) or f"from {home} import {attr}"
            warnings.warn(f"{module}.{name} is deprecated; use {hint}", DeprecationWarning,
                          stacklevel=_stacklevel())
        return value

    return __getattr__
