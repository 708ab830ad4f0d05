"""What every stage of the test kit shares: the one-line failure, the JSON check of a
``describe()``, the plugin manager with gankit's built-ins only, and making a model
findable by name."""

from __future__ import annotations

import contextlib
import json
from importlib import metadata

from .. import hookspecs
from ..hookspecs import hookimpl
from ..plugins import GROUP, Plugins

_DEFAULT = object()


def _fail(msg: str):
    raise AssertionError(msg)


def _json_ok(obj, what: str) -> None:
    try:
        json.dumps(obj, default=str)
    except (TypeError, ValueError) as exc:
        _fail(f"{what}.describe() is not JSON-serialisable ({exc}); "
              "`gankit list-* --json` would fail")


def builtin_plugins(warn=None):
    """A fresh plugin manager holding gankit's built-in plugins only.

    Third-party plugins installed in the environment are left out whatever
    ``GANKIT_LOAD_PLUGINS`` says, so a check sees the plugin under test and the
    built-ins, nothing else.
    """
    eps = [ep for ep in metadata.entry_points(group=GROUP)
           if getattr(ep, "dist", None) is not None and ep.dist.name == "gankit"]
    kw = {"warn": warn} if warn is not None else {}
    p = Plugins(entry_points=eps, **kw)
    p.load_entry_points()
    return p


@contextlib.contextmanager
def _collect_warnings(plugins):
    seen: list[str] = []
    old = plugins.warn
    plugins.warn = seen.append
    try:
        yield seen
    finally:
        plugins.warn = old


def _hook_names() -> set[str]:
    return {n for n in dir(hookspecs)
            if callable(getattr(hookspecs, n)) and hasattr(getattr(hookspecs, n), "gankit_spec")}


def _ensure_registered(plugins, model) -> None:
    """Make ``model`` findable by name in ``plugins`` (what gankit.load_model needs)."""
    if any(o is model for o in plugins.models()):
        return

    class _Registers:
        @hookimpl
        def register_models(self, register):
            register(model)

    plugins.add_plugin(_Registers(), f"gankit.testing:{model.name}")
