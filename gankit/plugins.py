"""Finding, loading and calling plugins.

Every plugin, built-in or third-party, is an entry point in the ``gankit`` group.
Built-ins (distribution ``gankit``) load first, then third-party ones sorted by
distribution name. ``GANKIT_LOAD_PLUGINS`` (a comma list of entry-point or
distribution names, possibly empty) restricts which third-party plugins load.
A plugin that fails to import, fails pluggy's validation or raises in a registration
hook gives one warning and is recorded with its error; the rest of gankit works.
"""

from __future__ import annotations

import importlib
import os
import sys
from dataclasses import dataclass, field
from importlib import metadata

import pluggy

from . import console, hookspecs
from .datasets import Dataset
from .errors import GankitError, UnknownNameError
from .extensions import Exporter, Metric
from .interrupts import from_signal_handler
from .losses import Loss
from .models import GANModel
from .registry import Registry

GROUP = "gankit"
#: the registration hook of each registry
HOOKS = {"model": "register_models", "dataset": "register_datasets", "loss": "register_losses",
         "exporter": "register_exporters", "metric": "register_metrics"}
#: what a registry's errors call its entries
WHAT = {"exporter": "export format"}
#: gankit's own implementations of registration hooks, loaded by name (like an entry point)
#: when the registry is first needed: modules of the layers above this one
BUILTIN = {"exporter": "gankit.export.formats", "metric": "gankit.metrics.builtin"}

#: gankit's own command names, which no plugin command takes (the command line's list,
#: written here so that the plugin manager needs no import of the commands; a test keeps
#: the two equal)
CORE_COMMANDS = ("data", "datasets", "direction", "docs", "evaluate", "export", "interpolate",
                 "list-datasets", "list-losses", "list-models", "new-plugin", "plugins", "runs",
                 "project", "sample", "studio", "timelapse", "train", "translate")


@dataclass
class PluginRecord:
    name: str
    module: str
    dist: str | None = None
    version: str | None = None
    builtin: bool = False
    hooks: list[str] = field(default_factory=list)
    error: str | None = None

    def as_dict(self) -> dict:
        return {
            "name": self.name,
            "module": self.module,
            "distribution": self.dist,
            "version": self.version,
            "builtin": self.builtin,
            "hooks": self.hooks,
            "error": self.error,
        }


class Plugins:
    """The plugin manager, the load records and the three registries."""

    def __init__(self, entry_points=None, warn=console.warn):
        self.pm = pluggy.PluginManager(GROUP)
        self.pm.add_hookspecs(hookspecs)
        self.records: dict[str, PluginRecord] = {}
        self.warn = warn
        self._entry_points = entry_points
        self._registries: dict[str, Registry] = {}
        self._disabled_observers: set[str] = set()

    # -- loading -----------------------------------------------------------------
    def load_entry_points(self) -> None:
        eps = self._entry_points
        if eps is None:
            eps = list(metadata.entry_points(group=GROUP))
        builtins, third = [], []
        for ep in eps:
            dist = getattr(ep, "dist", None)
            (builtins if dist is not None and dist.name == "gankit" else third).append(ep)
        allowed = os.environ.get("GANKIT_LOAD_PLUGINS")
        if allowed is not None:
            names = {n.strip() for n in allowed.split(",") if n.strip()}
            known = {n for ep in builtins + third
                     for n in (ep.name, getattr(getattr(ep, "dist", None), "name", None)) if n}
            for unknown in sorted(names - known):
                self.warn(f"GANKIT_LOAD_PLUGINS names '{unknown}', but no installed plugin has "
                          "that name (gankit plugins lists them)")
            third = [
                ep for ep in third
                if ep.name in names or (ep.dist is not None and ep.dist.name in names)
            ]
        third.sort(key=lambda ep: ((ep.dist.name if ep.dist else ""), ep.name))
        builtin_ids = {id(ep) for ep in builtins}
        for ep in builtins + third:
            self._load_entry_point(ep, builtin=id(ep) in builtin_ids)

    def _load_entry_point(self, ep, builtin: bool) -> None:
        dist = getattr(ep, "dist", None)
        rec = PluginRecord(
            name=ep.name,
            module=ep.value,
            dist=dist.name if dist else None,
            version=dist.version if dist else None,
            builtin=builtin,
        )
        if ep.name in self.records:
            other = self.records[ep.name]
            self.warn(
                f"plugin '{ep.name}' from {rec.dist} clashes with the one from {other.dist}; "
                f"keeping {other.dist}'s"
            )
            return
        self.records[ep.name] = rec
        try:
            obj = ep.load()
        except BaseException as exc:  # noqa: BLE001 - a plugin must never stop gankit
            if isinstance(exc, KeyboardInterrupt):
                raise
            self._fail(rec, exc)
            return
        self.add_plugin(obj, ep.name, record=rec)

    def add_plugin(self, obj, name: str, record: PluginRecord | None = None) -> PluginRecord:
        """Register a module or object as a plugin (used for entry points and by tests)."""
        rec = record or PluginRecord(name=name, module=getattr(obj, "__name__", repr(obj)))
        self.records[name] = rec
        try:
            self.pm.register(obj, name=name)
            self.pm.check_pending()
        except Exception as exc:  # noqa: BLE001
            try:
                self.pm.unregister(name=name)
            except Exception:  # noqa: BLE001
                pass
            self._fail(rec, exc)
            return rec
        rec.hooks = sorted(
            {impl.function.__name__ for caller in self.pm.get_hookcallers(obj) or []
             for impl in caller.get_hookimpls() if impl.plugin is obj}
        )
        self._registries.clear()
        return rec

    def remove_plugin(self, name: str) -> None:
        if self.pm.get_plugin(name) is not None:
            self.pm.unregister(name=name)
        self.records.pop(name, None)
        self._registries.clear()

    def _fail(self, rec: PluginRecord, exc: BaseException) -> None:
        rec.error = f"{type(exc).__name__}: {exc}".splitlines()[0] if str(exc) else type(exc).__name__
        self.warn(
            f"plugin '{rec.name}'"
            + (f" ({rec.dist} {rec.version})" if rec.dist else "")
            + f" failed to load: {rec.error}"
            + ("" if console.is_debug() else " (run with --debug for the traceback)")
        )
        if console.is_debug():
            import traceback

            traceback.print_exception(exc, file=sys.stderr)

    # -- calling -----------------------------------------------------------------
    def call_each(self, hook_name: str, **kwargs):
        """Call every implementation of a hook, built-ins first, isolating failures.

        Returns a list of (plugin name, result). A plugin that raises gets a warning and
        its error recorded; the others still run.
        """
        caller = getattr(self.pm.hook, hook_name)
        out = []
        for impl in caller.get_hookimpls():
            pname = impl.plugin_name
            try:
                res = impl.function(**{k: kwargs[k] for k in impl.argnames})
            except Exception as exc:  # noqa: BLE001
                self._hook_failed(pname, hook_name, exc)
                continue
            out.append((pname, res))
        return out

    def start_run(self, trainer) -> None:
        """on_train_start, on every process: a plugin raising GankitError refuses the run."""
        caller = self.pm.hook.on_train_start
        for impl in caller.get_hookimpls():
            try:
                impl.function(**{k: {"trainer": trainer}[k] for k in impl.argnames})
            except GankitError as exc:
                raise GankitError(f"plugin '{impl.plugin_name}' refused the run: {exc}") from None
            except Exception as exc:  # noqa: BLE001
                raise GankitError(
                    f"plugin '{impl.plugin_name}' raised in on_train_start: "
                    f"{type(exc).__name__}: {exc}"
                ) from None

    def commands(self, report: bool = True) -> list:
        """(plugin name, command name, click command) for every register_commands hook
        (``report=False``: a failing hook is skipped silently, it was reported already)."""
        import click

        out = []
        caller = self.pm.hook.register_commands
        for impl in caller.get_hookimpls():
            group = click.Group()
            try:
                impl.function(**{k: {"cli": group}[k] for k in impl.argnames})
            except Exception as exc:  # noqa: BLE001
                if report:
                    self._hook_failed(impl.plugin_name, "register_commands", exc)
                continue
            out.extend((impl.plugin_name, n, c) for n, c in group.commands.items())
        return out

    def command_table(self, entries=None, core=None) -> list:
        """(plugin, command name, click command, status) for every plugin command, by the
        rule of the registries: gankit's own commands keep their names; a command of an
        installed plugin shadows a built-in plugin's; two installed plugins' commands of
        one name both lose it. ``status``: ``qualified``, ``shadows``, ``shadowed_by``
        (another plugin's qualified name, or ``"gankit"`` for gankit's own command) and
        ``ambiguous``."""
        if entries is None:
            entries = self.commands(report=False)
        if core is None:
            core = set(CORE_COMMANDS)
        by_name: dict[str, list] = {}
        for plugin, name, cmd in entries:
            by_name.setdefault(name, []).append((plugin, cmd))
        out = []
        for name, owners in by_name.items():
            third = [o for o in owners if not self.is_builtin(o[0])]
            ambiguous = name not in core and len(third) > 1
            if name in core or ambiguous:
                winner = None
            else:
                winner = owners[0] if len(owners) == 1 or not third else third[0]
            for plugin, cmd in owners:
                status = {"qualified": f"{plugin}:{name}", "shadows": [], "shadowed_by": None,
                          "ambiguous": ambiguous}
                if name in core:
                    status["shadowed_by"] = "gankit"
                elif winner is not None and winner[0] == plugin:
                    status["shadows"] = [f"{o[0]}:{name}" for o in owners if o[0] != plugin]
                elif winner is not None:
                    status["shadowed_by"] = f"{winner[0]}:{name}"
                out.append((plugin, name, cmd, status))
        return out

    def _hook_failed(self, pname: str, hook_name: str, exc: Exception) -> None:
        rec = self.records.get(pname)
        if rec is not None and rec.error is None:
            rec.error = f"{type(exc).__name__} in {hook_name}: {exc}"
        self.warn(f"plugin '{pname}' raised in {hook_name}: {type(exc).__name__}: {exc}")
        if console.is_debug():
            import traceback

            traceback.print_exception(exc, file=sys.stderr)

    def notify(self, hook_name: str, **kwargs) -> None:
        """Call an observer hook; a plugin that raises is warned about and skipped afterwards."""
        caller = getattr(self.pm.hook, hook_name)
        for impl in caller.get_hookimpls():
            key = f"{impl.plugin_name}:{hook_name}"
            if key in self._disabled_observers:
                continue
            try:
                impl.function(**{k: kwargs[k] for k in impl.argnames})
            except (Exception, SystemExit, KeyboardInterrupt) as exc:  # noqa: BLE001
                if isinstance(exc, KeyboardInterrupt) and from_signal_handler(exc):
                    raise  # a real Ctrl-C that arrived during the hook, not the plugin's
                self._disabled_observers.add(key)
                self.warn(
                    f"plugin '{impl.plugin_name}' raised in {hook_name}: "
                    f"{type(exc).__name__}: {exc}; it is not called again in this run"
                )

    # -- registries --------------------------------------------------------------
    def registry(self, kind: str) -> Registry:
        if kind not in self._registries:
            base = {"model": GANModel, "dataset": Dataset, "loss": Loss, "exporter": Exporter,
                    "metric": Metric}[kind]
            reg = Registry(WHAT.get(kind, kind), base)
            reg.failures = self.failures
            reg.is_builtin = self.is_builtin
            hook = HOOKS[kind]
            impls = [(impl.plugin_name, impl.function)
                     for impl in getattr(self.pm.hook, hook).get_hookimpls()]
            if kind in BUILTIN:  # gankit's own, first, through the same hook
                impls.insert(0, ("gankit", getattr(importlib.import_module(BUILTIN[kind]),
                                                   hook)))
            for pname, function in impls:

                def register(obj, *, aliases=(), _p=pname):
                    reg.add(obj, _p, aliases=aliases, warn=self.warn)

                try:
                    function(register=register)
                except Exception as exc:  # noqa: BLE001
                    self._hook_failed(pname, hook, exc)
            self._registries[kind] = reg
        return self._registries[kind]

    def is_builtin(self, plugin: str) -> bool:
        """Whether ``plugin`` (an entry-point name) is one of gankit's built-ins."""
        if plugin == "gankit":  # gankit's own exporters and metrics, registered by the core
            return True
        rec = self.records.get(plugin)
        return bool(rec is not None and rec.builtin)

    def pin(self, names: dict) -> None:
        """Make bare names resolve as a resumed run recorded them: ``{kind: {bare:
        qualified}}`` for kinds ``model``, ``loss``, ``dataset`` (``{}`` clears)."""
        for kind in ("model", "loss", "dataset"):
            self.registry(kind).pin((names or {}).get(kind) or {})

    def failures(self) -> list[tuple]:
        """(plugin name, distribution, version, error) of every plugin with an error."""
        return [(r.name, r.dist, r.version, r.error) for r in self.records.values() if r.error]

    def info(self, name: str | None = None):
        """What ``gankit plugins --json`` shows: every plugin's record (name, module,
        distribution, version, builtin, hooks, error) plus the names it registered
        (``models``, ``datasets``, ``losses``, ``commands``). With ``name``: that plugin's
        dict (KeyError-derived UnknownNameError when no plugin has that name)."""
        owned: dict[str, dict[str, list]] = {
            n: {"models": [], "datasets": [], "losses": [], "commands": [], "shadows": [],
                "shadowed": []} for n in self.records}
        for key, reg in (("models", self.models()), ("datasets", self.datasets()),
                         ("losses", self.losses())):
            for obj in reg:
                if getattr(obj, "plugin", None) in owned:
                    mine = owned[obj.plugin]
                    mine[key].append(obj.name)
                    st = reg.status(obj)
                    mine["shadows"] += [f"{reg.what} {q}" for q in st["shadows"]]
                    if st["shadowed_by"] or st["ambiguous"]:
                        mine["shadowed"].append(f"{reg.what} {st['qualified']}")
        for pname, cmd, _c, status in self.command_table():
            if pname in owned:
                owned[pname]["commands"].append(cmd)
                if status.get("shadows"):
                    owned[pname]["shadows"] += [f"command {q}" for q in status["shadows"]]
                if status.get("shadowed_by") or status.get("ambiguous"):
                    owned[pname]["shadowed"].append(f"command {pname}:{cmd}")
        items = {n: r.as_dict() | owned[n] for n, r in self.records.items()}
        if name is None:
            return list(items.values())
        if name not in items:
            raise UnknownNameError("plugin", name, list(items))
        return items[name]

    def _command_names(self) -> list[tuple[str, str]]:
        """(plugin, command name) without warnings: failures were reported already."""
        return [(p, n) for p, n, _c in self.commands(report=False)]

    def models(self) -> Registry:
        return self.registry("model")

    def datasets(self) -> Registry:
        return self.registry("dataset")

    def losses(self) -> Registry:
        return self.registry("loss")

    def exporters(self) -> Registry:
        """``gankit export --format`` names (``register_exporters``)."""
        return self.registry("exporter")

    def metrics(self) -> Registry:
        """``gankit evaluate``'s image metrics (``register_metrics``)."""
        return self.registry("metric")


_plugins: Plugins | None = None


def get_plugins() -> Plugins:
    """The process-wide plugin manager, loaded on first use."""
    global _plugins
    if _plugins is None:
        _plugins = Plugins()
        _plugins.load_entry_points()
    return _plugins


def set_plugins(plugins: Plugins | None) -> None:
    """Replace the process-wide plugin manager (tests)."""
    global _plugins
    _plugins = plugins
