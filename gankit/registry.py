"""Name -> object registries for models, data sets and losses, filled by plugins.

Every registered object is reachable by its qualified name ``PLUGIN:NAME`` (the
plugin's entry-point name, then the object's name or one of its aliases), whatever else
is installed. A bare ``NAME`` resolves by one rule (docs/plugins.md, "Stability"):

- one plugin registers it: that one;
- a plugin the user installed and built-ins register it: the installed plugin's (it
  *shadows* the built-in, which stays reachable as ``BUILTIN:NAME``);
- two or more installed plugins register it: the bare name is refused with a "did you
  mean" listing their qualified names (a warning at startup says so too).

A plugin registering one name twice keeps the first and gets a warning.
"""

from __future__ import annotations

from typing import Generic, Iterator, TypeVar

from .errors import GankitError, UnknownNameError

T = TypeVar("T")

HOW_TO_SEE = "`gankit plugins` shows the error, `--debug` the traceback"


def _join(a: str, b: str) -> str:
    return f"{a}; {b}" if a and b else a or b


def failure_text(failed) -> str:
    """'plugin 'x' (gankit-x 1.0) failed to load: Error: ...; gankit plugins shows ...'"""
    parts = []
    for plugin, dist, version, error in failed:
        where = f" ({dist} {version})" if dist and version else (f" ({dist})" if dist else "")
        parts.append(f"plugin '{plugin}'{where} failed to load ({error})")
    return "; ".join(parts) + f"; {HOW_TO_SEE}"


def qualify(plugin: str, name: str) -> str:
    return f"{plugin}:{name}"


def split_qualified(name: str) -> tuple[str, str] | None:
    """``'sngan:rsgan'`` -> ``('sngan', 'rsgan')``; None for a bare name."""
    plugin, sep, bare = str(name).rpartition(":")
    return (plugin, bare) if sep and plugin and bare else None


class AmbiguousNameError(UnknownNameError):
    """A bare name that two or more installed plugins register: refused, with the
    qualified names to choose from."""

    def __init__(self, what: str, name: str, qualified):
        self.what, self.name, self.choices = what, name, list(qualified)
        owners = [q.rpartition(":")[0] for q in self.choices]
        listed = " or ".join(f"'{q}'" for q in self.choices)
        msg = (f"{what} '{name}' is registered by plugins "
               f"{', '.join(repr(o) for o in owners)}; did you mean {listed}?")
        Exception.__init__(self, msg)


class PluginGoneError(GankitError):
    """A resumed run's recorded ``PLUGIN:NAME`` whose plugin is not installed."""


class Registry(Generic[T]):
    """Names and aliases to registered objects, by plugin (see the module's rule)."""

    def __init__(self, what: str, base: type):
        self.what = what
        self.base = base
        self._objects: dict[str, T] = {}       # qualified primary name -> object
        self._qualified: dict[str, str] = {}   # "plugin:name-or-alias" -> qualified primary
        self._bare: dict[str, list[str]] = {}  # bare name or alias -> qualified primaries
        self._pins: dict[str, str] = {}        # bare name -> qualified (a resumed run's)
        #: warnings given while registering (clashes that need the user's attention)
        self.conflicts: list[str] = []
        #: returns the plugins that failed (name, distribution, version, error); set by
        #: the plugin manager so an unknown name can point at a broken plugin
        self.failures = lambda: []
        #: whether a plugin is one of gankit's built-ins; set by the plugin manager
        self.is_builtin = lambda plugin: False

    # -- registering -------------------------------------------------------------------
    def add(self, obj: T, plugin: str, aliases=(), warn=None) -> bool:
        if not isinstance(obj, self.base):
            raise TypeError(
                f"register() got {type(obj).__name__}, expected a {self.base.__name__} instance"
            )
        name = getattr(obj, "name", None)
        if not name or not isinstance(name, str):
            raise TypeError(f"{type(obj).__name__} has no name")

        def say(msg):
            self.conflicts.append(msg)
            if warn:
                warn(msg)

        key = qualify(plugin, name)
        if key in self._qualified:
            say(f"{self.what} '{name}' is registered twice by plugin '{plugin}'; keeping the "
                "first")
            return False
        obj.plugin = plugin
        self._objects[key] = obj
        for n in dict.fromkeys((name, *aliases)):
            q = qualify(plugin, n)
            if q in self._qualified:
                say(f"{self.what} alias '{n}' of plugin '{plugin}' is already one of its "
                    f"names; ignored")
                continue
            self._qualified[q] = key
            owners = self._bare.setdefault(n, [])
            third = [o for o in owners if not self.is_builtin(self._plugin_of(o))]
            if not self.is_builtin(plugin) and third:
                names = " or ".join(f"'{qualify(self._plugin_of(o), n)}'"
                                    for o in [*third, key])
                say(f"{self.what} '{n}' is registered by plugins "
                    f"{', '.join(repr(self._plugin_of(o)) for o in third)} and '{plugin}'; "
                    f"the bare name is refused: use {names}")
            elif self.is_builtin(plugin) and any(self.is_builtin(self._plugin_of(o))
                                                 for o in owners):
                say(f"{self.what} '{n}' from plugin '{plugin}' clashes with the one from "
                    f"plugin '{self._plugin_of(owners[0])}'; keeping "
                    f"'{self._plugin_of(owners[0])}'")
            owners.append(key)
        return True

    def _plugin_of(self, qualified: str) -> str:
        return getattr(self._objects[qualified], "plugin", None) or qualified.rpartition(":")[0]

    # -- resolving ---------------------------------------------------------------------
    def _resolve_bare(self, name: str) -> str | None:
        """The qualified primary name a bare name means, None when nobody registers it;
        raises AmbiguousNameError for a clash between installed plugins."""
        if name in self._pins:
            q = self._pins[name]
            if q in self._qualified:
                return self._qualified[q]
            raise self._gone(q)
        owners = self._bare.get(name)
        if not owners:
            return None
        if len(owners) == 1:
            return owners[0]
        third = [o for o in owners if not self.is_builtin(self._plugin_of(o))]
        if len(third) == 1:
            return third[0]
        if not third:
            return owners[0]
        raise AmbiguousNameError(self.what, name,
                                 [qualify(self._plugin_of(o), name) for o in third])

    def resolve(self, name: str, hint: str = "") -> str:
        """The qualified primary name (``plugin:name``) that ``name`` means."""
        name = str(name)
        if name in self._qualified:
            return self._qualified[name]
        if name in self._bare or name in self._pins:
            found = self._resolve_bare(name)
            if found:
                return found
        parts = split_qualified(name)
        if parts is not None:
            plugin, bare = parts
            mine = sorted(q for q in self._qualified if q.rpartition(":")[0] == plugin)
            if mine:
                raise UnknownNameError(self.what, name, mine,
                                       f"plugin '{plugin}' registers no {self.what} '{bare}'")
            hint = _join(f"plugin '{plugin}' is not installed or registers no {self.what}"
                         " (gankit plugins lists them)", hint)
            suspects, _others = self.failed_for(plugin)
            if suspects:
                hint = _join(failure_text(suspects), hint)
            raise UnknownNameError(self.what, name, sorted(self._qualified), hint)
        self._unknown(name, hint)
        raise AssertionError  # not reached

    def _gone(self, q: str):
        """The error for a run's recorded name whose plugin is not installed."""
        plugin, bare = split_qualified(q)
        mine = any(k.rpartition(":")[0] == plugin for k in self._qualified)
        why = (f"plugin '{plugin}' no longer registers it" if mine else
               f"plugin '{plugin}' is not installed")
        return PluginGoneError(f"this run was trained with {self.what} '{q}', but {why}; "
                           f"install the plugin it was trained with (`gankit plugins` lists "
                           "what is installed)")

    def _unknown(self, name: str, hint: str):
        choices = list(self._bare)
        suspects, others = self.failed_for(name)
        if suspects:
            # a broken plugin probably provides it: no "did you mean" for another name
            err = UnknownNameError(self.what, name, [], _join(failure_text(suspects), hint))
            err.choices = sorted(choices)
            raise err
        if others:
            names = ", ".join(f"'{f[0]}'" for f in others)
            hint = _join(f"plugin{'s' if len(others) > 1 else ''} {names} failed to load "
                         f"({HOW_TO_SEE})", hint)
        raise UnknownNameError(self.what, name, choices, hint)

    def get(self, name: str, hint: str = "") -> T:
        return self._objects[self.resolve(name, hint)]

    def qualified(self, obj_or_name) -> str:
        """``plugin:name`` of a registered object (or of what a name resolves to)."""
        if isinstance(obj_or_name, str):
            return self.resolve(obj_or_name)
        return qualify(getattr(obj_or_name, "plugin", "?"), obj_or_name.name)

    def first(self, name: str) -> str | None:
        """The qualified name gankit 0.2 gave a bare name (the first registration:
        built-ins first); for runs that recorded bare names."""
        if split_qualified(name) and name in self._qualified:
            return self._qualified[name]
        owners = self._bare.get(name)
        return owners[0] if owners else None

    def pin(self, pins: dict) -> None:
        """Bare name -> qualified name that a resumed run recorded (``{}`` to clear)."""
        self._pins = dict(pins)

    def failed_for(self, name: str):
        """(suspects, others): failed plugins whose entry-point or distribution name
        contains ``name`` (or is contained in it), and the remaining failed plugins."""
        suspects, others = [], []
        low = name.lower()
        for f in self.failures():
            plugin, dist = f[0].lower(), (f[1] or "").lower()
            short = dist.removeprefix("gankit-")
            hit = (low in plugin or low in dist
                   or any(len(n) >= 3 and n in low for n in (plugin, short)))
            (suspects if hit else others).append(f)
        return suspects, others

    # -- what the listings show ------------------------------------------------------------
    def status(self, obj) -> dict:
        """How the bare names of ``obj`` resolve: ``qualified`` (its ``plugin:name``),
        ``shadows`` (qualified names of built-ins its bare names now hide),
        ``shadowed_by`` (the qualified name its bare name reaches instead, or None) and
        ``ambiguous`` (True when installed plugins clash on its name: bare name refused)."""
        key = self.qualified(obj)
        shadows, shadowed_by, ambiguous = [], None, False
        for n in [obj.name, *self.aliases_of(key)]:
            owners = self._bare.get(n, [])
            try:
                winner = self._resolve_bare(n)
            except AmbiguousNameError:
                if n == obj.name:
                    ambiguous = True
                continue
            if winner == key:
                shadows += [qualify(self._plugin_of(o), n) for o in owners if o != key]
            elif n == obj.name and winner is not None:
                shadowed_by = qualify(self._plugin_of(winner), n)
        return {"qualified": key, "shadows": shadows, "shadowed_by": shadowed_by,
                "ambiguous": ambiguous}

    def notes(self) -> list[str]:
        """One line per bare name an installed plugin takes from a built-in."""
        out = []
        for n, owners in self._bare.items():
            if len(owners) < 2:
                continue
            try:
                winner = self._resolve_bare(n)
            except AmbiguousNameError:
                continue
            if not self.is_builtin(self._plugin_of(winner)):
                hidden = [qualify(self._plugin_of(o), n) for o in owners if o != winner]
                out.append(f"{self.what} '{n}' is {qualify(self._plugin_of(winner), n)}, "
                           f"from plugin '{self._plugin_of(winner)}'; it shadows the "
                           f"built-in {', '.join(hidden)}")
        return out

    def shadow_note(self, name: str) -> str | None:
        """A line saying which plugin a bare ``name`` reached when it shadows a built-in."""
        if split_qualified(name) and name in self._qualified or name not in self._bare:
            return None
        if len(self._bare[name]) < 2 or name in self._pins:
            return None
        winner = self._resolve_bare(name)
        if self.is_builtin(self._plugin_of(winner)):
            return None
        hidden = [qualify(self._plugin_of(o), name) for o in self._bare[name] if o != winner]
        return (f"{self.what} '{name}' is {qualify(self._plugin_of(winner), name)}, from "
                f"plugin '{self._plugin_of(winner)}', which shadows the built-in "
                f"{', '.join(hidden)} (use that name for the built-in)")

    def __contains__(self, name: str) -> bool:
        name = str(name)
        return name in self._qualified or bool(self._bare.get(name)) or name in self._pins

    def __iter__(self) -> Iterator[T]:
        return iter(self._objects.values())

    def __len__(self) -> int:
        return len(self._objects)

    def names(self) -> list[str]:
        """The bare names of the registered objects (each once)."""
        return list(dict.fromkeys(o.name for o in self._objects.values()))

    def aliases_of(self, name: str) -> list[str]:
        """The aliases of the object ``name`` (bare or qualified) resolves to."""
        try:
            key = self.resolve(name)
        except UnknownNameError:
            return []
        plugin = self._plugin_of(key)
        primary = self._objects[key].name
        return [q.rpartition(":")[2] for q, k in self._qualified.items()
                if k == key and q.rpartition(":")[2] != primary
                and q.rpartition(":")[0] == plugin]


# -- the names a run records (config.json "names", checkpoint "gankit.names") -------------

DATASET_META = "gankit.dataset"  # Data.meta key: the qualified data set that loaded it


def _qualified_of(obj) -> str | None:
    plugin = getattr(obj, "plugin", None) if obj is not None else None
    return qualify(plugin, obj.name) if plugin else None


def run_names(model, loss, domains: dict) -> dict:
    """``{"model", "loss", "dataset", "datasets"}``: the qualified names of what a run
    trains with (``datasets``: domain -> data set, where gankit loaded it)."""
    datasets = {d: (data.meta or {}).get(DATASET_META) for d, data in (domains or {}).items()}
    datasets = {d: q for d, q in datasets.items() if q}
    return {"model": _qualified_of(model), "loss": _qualified_of(loss),
            "dataset": next(iter(datasets.values()), None), "datasets": datasets}


def recorded_names(checkpoint) -> dict:
    """The qualified names a checkpoint recorded; a gankit 0.2 checkpoint recorded only
    its model's plugin (``gankit.plugin``), so its model is qualified from that."""
    import json

    meta = getattr(checkpoint, "metadata", None) or {}
    try:
        names = json.loads(meta.get("gankit.names") or "{}")
    except ValueError:
        names = {}
    names = names if isinstance(names, dict) else {}
    out = {k: v for k, v in names.items() if isinstance(v, str) and split_qualified(v)}
    datasets = names.get("datasets")
    out["datasets"] = {str(k): v for k, v in datasets.items()
                       if isinstance(v, str) and split_qualified(v)} \
        if isinstance(datasets, dict) else {}
    # gankit.model names the model; the names (or gankit.plugin) say whose it is
    plugin = split_qualified(out["model"])[0] if "model" in out else checkpoint.plugin
    out.pop("model", None)
    if plugin and checkpoint.model:
        out["model"] = qualify(plugin, checkpoint.model)
    return out


def pins_for(checkpoint, plugins, saved_options=None) -> dict:
    """``{kind: {bare: qualified}}`` that make a resumed run's bare names mean what they
    meant when it trained: the recorded qualified names, and for names a gankit 0.2 run
    recorded bare, the implementation 0.2 chose (the first registered, built-ins first)."""
    names = recorded_names(checkpoint)
    pins: dict = {"model": {}, "loss": {}, "dataset": {}}
    saved = {"model": getattr(saved_options, "model", None),
             "loss": getattr(saved_options, "loss", None),
             "dataset": getattr(saved_options, "dataset", None)}
    if names.get("model"):
        pins["model"][checkpoint.model] = names["model"]
    if names.get("loss"):
        pins["loss"][split_qualified(names["loss"])[1]] = names["loss"]
    for q in names.get("datasets", {}).values():
        pins["dataset"][split_qualified(q)[1]] = q
    for kind in ("model", "loss", "dataset"):  # the name as given (an alias, maybe)
        q = names.get(kind)
        if q and saved[kind] and not split_qualified(saved[kind]):
            pins[kind].setdefault(saved[kind], q)
    if saved_options is not None and "gankit.names" not in (checkpoint.metadata or {}):
        for kind, name in (("loss", saved_options.loss), ("dataset", saved_options.dataset)):
            if name and not split_qualified(name) and name not in pins[kind]:
                first = plugins.registry(kind).first(name)
                if first:
                    pins[kind][name] = first
    return pins
