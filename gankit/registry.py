"""Name -> object registries for models, data sets and losses, filled by plugins."""

from __future__ import annotations

from typing import Generic, Iterator, TypeVar

from .errors import UnknownNameError

T = TypeVar("T")


class Registry(Generic[T]):
    """Names and aliases to registered objects. The first registration of a name wins."""

    def __init__(self, what: str, base: type):
        self.what = what
        self.base = base
        self._items: dict[str, T] = {}
        self._aliases: dict[str, str] = {}
        self.conflicts: list[str] = []

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
        raise UnknownNameError(self.what, name, list(self._items) + list(self._aliases), hint)

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
