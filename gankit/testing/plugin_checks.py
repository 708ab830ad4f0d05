"""Checks of a plugin as a whole: it loads cleanly next to gankit's built-ins
(:func:`check_plugin`), a broken one fails as documented
(:func:`assert_broken_plugin_warns`), and what ``gankit plugins --json`` shows for it
(:func:`plugin_info`)."""

from __future__ import annotations

import os
import subprocess
import sys
import types

from .. import console
from ..plugins import get_plugins
from .base import _collect_warnings, _fail, _hook_names, builtin_plugins
from .cli import run_cli


def check_plugin(plugin, name: str | None = None, *, plugins=None, light_import: bool = True):
    """Register ``plugin`` (a module or object with ``@hookimpl`` functions) next to
    gankit's built-ins and check that it loads cleanly. Returns the plugin manager, ready
    for :func:`check_model` and :func:`run_cli`.

    :param name: the plugin's name in that manager (default: the module's name; use the
        entry-point name to match what ``gankit plugins`` shows).
    :param plugins: a manager to add it to (default: :func:`builtin_plugins`).
    :param light_import: also check, in a fresh interpreter, that importing the module
        does not import torch (``gankit --help`` and ``list-models`` must stay fast).
    """
    import click

    name = name or getattr(plugin, "__name__", None) or type(plugin).__name__
    p = plugins if plugins is not None else builtin_plugins()
    with _collect_warnings(p) as seen:
        rec = p.add_plugin(plugin, name)
        if rec.error:
            _fail(f"plugin '{name}' failed to load: {rec.error}")
        hooks = _hook_names()
        undecorated = sorted(h for h in hooks
                             if callable(getattr(plugin, h, None)) and h not in rec.hooks)
        if undecorated:
            _fail(f"plugin '{name}' defines {', '.join(undecorated)} without @gankit.hookimpl; "
                  "gankit will never call them")
        if not rec.hooks:
            _fail(f"plugin '{name}' implements no gankit hook; decorate its hook functions "
                  "with @gankit.hookimpl")
        p.models(), p.datasets(), p.losses()
        p.call_each("register_commands", cli=click.Group())
        if rec.error:
            _fail(f"plugin '{name}': {rec.error}")
        # a clash among its own names, or with another installed plugin's (one it depends
        # on, added to ``plugins`` first) is a warning: a failure. Shadowing a built-in is
        # not (gankit may add a name any release): a note
        mine = [w for w in seen if f"'{name}'" in w]
        if mine:
            _fail(f"plugin '{name}': {mine[0]}")
        for reg in (p.models(), p.datasets(), p.losses()):
            for note in reg.notes():
                if f"'{name}'" in note:
                    console.info(f"note: {note}")
    if light_import and isinstance(plugin, types.ModuleType):
        _check_light_import(plugin.__name__)
    return p


def _check_light_import(module: str) -> None:
    code = (f"import sys, {module}; "
            "print(','.join(m for m in ('torch', 'torchvision') if m in sys.modules))")
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([p for p in sys.path if p] +
                                        [env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=env, timeout=120)
    if out.returncode != 0:
        last = (out.stderr.strip().splitlines() or ["?"])[-1]
        _fail(f"`import {module}` fails in a fresh interpreter: {last}")
    heavy = out.stdout.strip()
    if heavy:
        _fail(f"`import {module}` imports {heavy}; import it inside build()/load() instead "
              "so `gankit --help` and `gankit list-models` stay fast "
              "(or pass light_import=False)")




class _ImportEntryPoint:
    """An entry point that imports a module by name, as gankit loads installed plugins."""

    def __init__(self, name: str, module: str):
        self.name, self.value, self.dist = name, module, None

    def load(self):
        import importlib

        for key in [m for m in sys.modules if m == self.value or
                    m.startswith(self.value + ".")]:
            del sys.modules[key]  # import it afresh, as a new process would
        return importlib.import_module(self.value)


def assert_broken_plugin_warns(plugin, name: str | None = None):
    """Load a deliberately broken plugin next to gankit's built-ins and check that gankit
    copes as documented: exactly one warning line naming the plugin (no traceback), the
    error recorded for ``gankit plugins``, and the built-in models, losses, data sets and
    commands still working. Returns ``(plugins, warning)``.

    :param plugin: a module name (``"gankit_broken"``: imported as an entry point would
        be, for a plugin that raises at import), or a module or object (for one that fails
        pluggy's validation or raises in a registration hook).
    :param name: the plugin's name (default: the module's name).
    """
    seen: list[str] = []
    p = builtin_plugins(warn=seen.append)
    if isinstance(plugin, str):
        name = name or plugin
        p._load_entry_point(_ImportEntryPoint(name, plugin), builtin=False)
    else:
        name = name or getattr(plugin, "__name__", None) or type(plugin).__name__
        p.add_plugin(plugin, name)
    p.models(), p.datasets(), p.losses()
    p.commands()
    rec = p.records.get(name)
    if rec is None or not rec.error:
        _fail(f"plugin '{name}' loaded without an error; it is not broken")
    mine = [w for w in seen if f"'{name}'" in w]
    if len(mine) != 1:
        _fail(f"plugin '{name}': expected exactly one warning, got {len(mine)}: {mine}")
    warning = mine[0]
    if "\n" in warning or "Traceback" in warning:
        _fail(f"plugin '{name}': the warning must be one line without a traceback: "
              f"{warning!r}")
    for kind, builtin in (("model", "dcgan"), ("loss", "bce"), ("dataset", "sushi")):
        if builtin not in p.registry(kind):
            _fail(f"built-in {kind} '{builtin}' is missing next to the broken plugin '{name}'")
    result = run_cli(["list-models", "--json"], plugins=p)
    if result.exit_code != 0 or '"dcgan"' not in result.stdout:
        _fail(f"`gankit list-models` fails next to the broken plugin '{name}': "
              f"{result.output[-300:]}")
    if run_cli(["--help"], plugins=p).exit_code != 0:
        _fail(f"`gankit --help` fails next to the broken plugin '{name}'")
    return p, warning


def plugin_info(name: str, plugins=None) -> dict:
    """What ``gankit plugins --json`` shows for plugin ``name``: ``name``, ``module``,
    ``distribution``, ``version``, ``builtin``, ``hooks`` (sorted), ``error`` (None when
    it loaded cleanly) and the names it registered: ``models``, ``datasets``, ``losses``,
    ``commands``.

    :param plugins: the manager (e.g. the one :func:`check_plugin` returned); default:
        the process-wide one, as the command line sees it.
    """
    if plugins is None:
        plugins = get_plugins()
    return plugins.info(name)
