"""Name -> object registries for models, data sets and losses, filled by plugins."""

from __future__ import annotations

from typing import Generic, Iterator, TypeVar

from .errors import UnknownNameError

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


class Registry(Generic[T]):
    """Names and aliases to registered objects. The first registration of a name wins."""

    def __init__(self, what: str, base: type):
        self.what = what
        self.base = base
        self._items: dict[str, T] = {}
        self._aliases: dict[str, str] = {}
        self.conflicts: list[str] = []
        #: returns the plugins that failed (name, distribution, version, error); set by
        #: the plugin manager so an unknown name can point at a broken plugin
        self.failures = lambda: []

    def add(self, obj: T, plugin: str, aliases=(), warn=None) -> bool:
        if not isinstance(obj, self.base):
            raise TypeError(
                f"register() got {type(obj).__name__}, expected a {self.base.__name__} instance"
            )
        name = getattr(obj, "name", None)
        if not name or not isinstance(name, str):
            raise TypeError(f"{type(obj).__name__} has no name")
        for n in (name, *aliases):
            owner = self._owner(n)
            if owner is not None:
                msg = (
                    f"{self.what} '{n}' from plugin '{plugin}' clashes with the one from "
                    f"plugin '{owner}'; keeping '{owner}'"
                )
                self.conflicts.append(msg)
                if warn:
                    warn(msg)
                if n == name:
                    return False
                continue
            if n == name:
                obj.plugin = plugin
                self._items[name] = obj
            else:
                self._aliases[n] = name
        return True

    def _owner(self, n: str):
        key = self._aliases.get(n, n)
        obj = self._items.get(key)
        return getattr(obj, "plugin", "?") if obj is not None else None

    def get(self, name: str, hint: str = "") -> T:
        key = self._aliases.get(name, name)
        if key in self._items:
            return self._items[key]
        choices = list(self._items) + list(self._aliases)
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

    def __contains__(self, name: str) -> bool:
        return self._aliases.get(name, name) in self._items

    def __iter__(self) -> Iterator[T]:
        return iter(self._items.values())

    def __len__(self) -> int:
        return len(self._items)

    def names(self) -> list[str]:
        return list(self._items)

    def aliases_of(self, name: str) -> list[str]:
        return [a for a, n in self._aliases.items() if n == name]
