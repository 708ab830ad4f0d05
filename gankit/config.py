"""Dataclass configs: ``--set KEY=VALUE`` coercion, JSON round trip, flag-naming errors."""

from __future__ import annotations

import dataclasses
import json
import math
import types
import typing

from .errors import GankitError, UnknownNameError, UsageError


def fields_of(cfg) -> dict[str, dataclasses.Field]:
    return {f.name: f for f in dataclasses.fields(cfg)}


def _resolved_types(cls) -> dict[str, object]:
    try:
        return typing.get_type_hints(cls)
    except Exception:  # noqa: BLE001 - fall back to the raw annotations
        return {f.name: f.type for f in dataclasses.fields(cls)}


def _coerce(value: str, typ, key: str):
    origin = typing.get_origin(typ)
    args = typing.get_args(typ)
    if origin in (typing.Union, types.UnionType):
        non_none = [a for a in args if a is not type(None)]
        if value.lower() in ("none", "null", ""):
            return None
        return _coerce(value, non_none[0], key)
    if origin is typing.Literal:
        if value in args:
            return value
        raise UsageError(f"--set {key}={value}: choose one of {', '.join(map(str, args))}")
    if origin in (tuple, list):
        parts = [p for p in value.replace(" ", "").split(",") if p != ""]
        inner = args[0] if args else str
        if origin is tuple and len(args) >= 2 and args[1] is not Ellipsis:
            if len(parts) != len(args):
                raise UsageError(f"--set {key}={value}: expected {len(args)} comma-separated values")
            return tuple(_coerce(p, a, key) for p, a in zip(parts, args))
        return origin(_coerce(p, inner, key) for p in parts)
    if typ is bool:
        low = value.lower()
        if low in ("1", "true", "yes", "on"):
            return True
        if low in ("0", "false", "no", "off"):
            return False
        raise UsageError(f"--set {key}={value}: expected true or false")
    if typ in (int, float, str):
        try:
            return typ(value)
        except ValueError:
            raise UsageError(f"--set {key}={value}: expected {typ.__name__}") from None
    return value


def parse_sets(pairs) -> dict[str, str]:
    out = {}
    for pair in pairs or ():
        if "=" not in pair:
            raise UsageError(f"--set {pair}: expected KEY=VALUE")
        key, value = pair.split("=", 1)
        out[key.strip().replace("-", "_")] = value.strip()
    return out


def apply_sets(cfg, sets: dict[str, str], what: str = "option"):
    """Return a copy of dataclass ``cfg`` with the string values of ``sets`` coerced."""
    types_ = _resolved_types(type(cfg))
    names = fields_of(cfg)
    changes = {}
    for key, value in sets.items():
        if key not in names:
            raise UnknownNameError(f"--set key for {what}", key, names)
        changes[key] = _coerce(value, types_[key], key)
    return dataclasses.replace(cfg, **changes)


def to_dict(cfg) -> dict:
    return json.loads(json.dumps(dataclasses.asdict(cfg)))


def _fits(value, typ) -> bool:
    """Does a JSON value fit a field's annotation? (Edited or hostile metadata must not
    reach a model's build: a str where an int belongs, inf, a float for an int.)"""
    origin, args = typing.get_origin(typ), typing.get_args(typ)
    if origin in (typing.Union, types.UnionType):
        return any(_fits(value, a) for a in args)
    if typ is type(None):
        return value is None
    if origin is typing.Literal:
        return value in args
    if origin in (tuple, list):
        if not isinstance(value, (tuple, list)):
            return False
        if origin is tuple and args and (len(args) < 2 or args[1] is not Ellipsis):
            return len(value) == len(args) and all(_fits(v, a) for v, a in zip(value, args))
        return not args or all(_fits(v, args[0]) for v in value)
    if typ is bool:
        return isinstance(value, bool)
    if typ is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if typ is float:
        if isinstance(value, bool):
            return False
        return isinstance(value, int) or (isinstance(value, float) and math.isfinite(value))
    if typ is str:
        return isinstance(value, str)
    if typ is dict or origin is dict:
        return isinstance(value, dict)
    return True  # other annotations (or unresolved ones): not checked


def from_dict(cls, data: dict, strict: bool = True):
    """Rebuild a config from JSON (lists become tuples where the field says tuple)."""
    if not isinstance(data, dict):
        raise GankitError(f"expected a JSON object for {cls.__name__}, got {type(data).__name__}")
    types_ = _resolved_types(cls)
    kwargs = {}
    for f in dataclasses.fields(cls):
        if f.name not in data:
            continue
        v = data[f.name]
        if isinstance(v, list) and typing.get_origin(types_[f.name]) is tuple:
            v = tuple(v)
        if not _fits(v, types_[f.name]):
            shown = json.dumps(v)
            shown = shown if len(shown) <= 40 else shown[:37] + "..."
            raise GankitError(f"{cls.__name__} '{f.name}' = {shown} is not a valid "
                              f"{getattr(types_[f.name], '__name__', types_[f.name])}")
        kwargs[f.name] = v
    unknown = set(data) - set(kwargs)
    if unknown and strict:
        raise GankitError(f"unknown {cls.__name__} keys: {', '.join(sorted(unknown))}")
    return cls(**kwargs)


def describe(cls) -> list[dict]:
    """Fields with type, default and help (from ``field(metadata={'help': ...})``)."""
    types_ = _resolved_types(cls)
    out = []
    for f in dataclasses.fields(cls):
        default = f.default if f.default is not dataclasses.MISSING else (
            f.default_factory() if f.default_factory is not dataclasses.MISSING else None
        )
        t = types_[f.name]
        out.append(
            {
                "name": f.name,
                "type": getattr(t, "__name__", str(t).replace("typing.", "")),
                "default": default,
                "help": f.metadata.get("help", ""),
            }
        )
    return out
