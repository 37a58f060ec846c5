"""Typed, strict loading of plain mappings into frozen dataclasses.

Every section of params.yaml is a frozen dataclass whose annotations are the schema. ``build`` checks the whole
tree before any work starts: an unknown key, a missing key, a wrong type or an invalid choice is reported with its
dotted path and what would be valid, and all problems are reported together.

A field with a default may be left out. A numeric field declares its bounds once, with ``bounded`` (checked by
``build``; a number is always finite: NaN and infinity are refused everywhere). A dataclass may define
``check(self) -> list[str]`` for rules that span fields (fractions summing to one, ...); its messages should name the
keys they are about, relative to the section.
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from collections.abc import Mapping
from typing import Any, Literal, Union

from sasnet.errors import PipelineError


class ParamsError(PipelineError):
    """params.yaml (or an override) does not fit the schema; the message lists every problem found."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("invalid params:\n  - " + "\n  - ".join(problems))


@dataclasses.dataclass(frozen=True)
class Bounds:
    """Inclusive (ge, le) and exclusive (gt, lt) limits of a number."""

    ge: float | None = None
    gt: float | None = None
    le: float | None = None
    lt: float | None = None

    def holds(self, value: float) -> bool:
        return ((self.ge is None or value >= self.ge) and (self.gt is None or value > self.gt)
                and (self.le is None or value <= self.le) and (self.lt is None or value < self.lt))

    def __str__(self) -> str:
        limits = (("ge", ">="), ("gt", ">"), ("le", "<="), ("lt", "<"))
        return " and ".join(f"{sign} {getattr(self, name)}" for name, sign in limits if getattr(self, name) is not None)


def bounded(*, ge: float | None = None, gt: float | None = None, le: float | None = None,
            lt: float | None = None, **field_options: Any) -> Any:
    """A numeric dataclass field whose limits ``build`` checks (a null value of an optional field passes)."""
    return dataclasses.field(metadata={"bounds": Bounds(ge, gt, le, lt)}, **field_options)


def build(cls: type, data: Any, path: str = "") -> Any:
    """Build dataclass ``cls`` from ``data``, raising ParamsError with every problem found."""
    problems: list[str] = []
    value = _convert(cls, data, path, problems)
    if problems:
        raise ParamsError(problems)
    return value


def _type_name(tp: Any) -> str:
    if tp is type(None):
        return "null"
    origin = typing.get_origin(tp)
    if origin is Literal:
        return "one of " + ", ".join(repr(a) for a in typing.get_args(tp))
    if origin in (Union, types.UnionType):
        return " or ".join(_type_name(a) for a in typing.get_args(tp))
    if origin in (list, dict):
        return f"{origin.__name__}[{', '.join(_type_name(a) for a in typing.get_args(tp))}]"
    if dataclasses.is_dataclass(tp):
        return "a mapping"
    return getattr(tp, "__name__", str(tp))


def _describe(value: Any) -> str:
    return f"{value!r} ({type(value).__name__})" if value is not None else "null"


def _convert(tp: Any, value: Any, path: str, problems: list[str]) -> Any:
    where = path or "<top level>"
    origin = typing.get_origin(tp)

    if tp is Any:
        return value
    if dataclasses.is_dataclass(tp):
        return _convert_dataclass(tp, value, path, problems)

    if origin is Literal:
        choices = typing.get_args(tp)
        if value not in choices or isinstance(value, bool) != any(isinstance(c, bool) for c in choices):
            problems.append(f"{where}: got {_describe(value)}; valid values: {', '.join(map(repr, choices))}")
        return value

    if origin in (Union, types.UnionType):
        options = typing.get_args(tp)
        if value is None and type(None) in options:
            return None
        for option in options:
            if option is type(None):
                continue
            trial: list[str] = []
            converted = _convert(option, value, path, trial)
            if not trial:
                return converted
        problems.append(f"{where}: got {_describe(value)}; expected {_type_name(tp)}")
        return value

    if origin is list:
        (item_type,) = typing.get_args(tp)
        if not isinstance(value, list):
            problems.append(f"{where}: got {_describe(value)}; expected a list")
            return value
        return tuple(_convert(item_type, item, f"{path}[{i}]", problems) for i, item in enumerate(value))

    if origin is dict:
        key_type, item_type = typing.get_args(tp)
        if not isinstance(value, dict):
            problems.append(f"{where}: got {_describe(value)}; expected a mapping")
            return value
        out = {}
        for key, item in value.items():
            if not isinstance(key, key_type):
                problems.append(f"{where}: key {key!r} must be {_type_name(key_type)}")
            out[key] = _convert(item_type, item, f"{path}.{key}", problems)
        return types.MappingProxyType(out)

    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            problems.append(f"{where}: got {_describe(value)}; expected a number")
            return value
        if not math.isfinite(value):  # `x <= 0` is False for NaN: no later bound would catch it
            problems.append(f"{where}: got {value}; expected a finite number")
        return float(value)
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            problems.append(f"{where}: got {_describe(value)}; expected an integer")
        return value
    if tp in (str, bool):
        if not isinstance(value, tp):
            problems.append(f"{where}: got {_describe(value)}; expected {tp.__name__}")
        return value
    raise TypeError(f"unsupported schema type {tp!r} at {where}")


def _convert_dataclass(cls: type, value: Any, path: str, problems: list[str]) -> Any:
    where = path or "<top level>"
    if not isinstance(value, dict):
        problems.append(f"{where}: got {_describe(value)}; expected a mapping with keys {_field_list(cls)}")
        return None
    hints = typing.get_type_hints(cls)
    fields = [f.name for f in dataclasses.fields(cls)]
    optional = {f.name for f in dataclasses.fields(cls)
                if f.default is not dataclasses.MISSING or f.default_factory is not dataclasses.MISSING}
    prefix = f"{path}." if path else ""
    for key in value:
        if key not in fields:
            problems.append(f"{prefix}{key}: unknown key; valid keys here: {_field_list(cls)}")
    before = len(problems)
    kwargs = {}
    for name in fields:
        if name not in value:
            if name not in optional:
                problems.append(f"{prefix}{name}: missing (expected {_type_name(hints[name])})")
            continue
        kwargs[name] = _convert(hints[name], value[name], prefix + name, problems)
    if len(problems) > before:
        return None
    built = cls(**kwargs)
    problems.extend(f"{prefix}{message}" for message in rule_problems(built))
    return built


def with_overrides(base: Any, overrides: Mapping[str, Any], path: str = "") -> Any:
    """``base``, a built section, with ``overrides`` (plain YAML values of some of its keys) converted and checked as
    ``build`` checks them, then the merged section's own rules; the rest of ``base`` is kept as built, not rebuilt."""
    cls = base.__class__
    hints = typing.get_type_hints(cls)
    fields = [item.name for item in dataclasses.fields(cls)]
    prefix = f"{path}." if path else ""
    problems = [f"{prefix}{key}: unknown key; valid keys here: {_field_list(cls)}" for key in overrides
                if key not in fields]
    converted = {key: _convert(hints[key], value, prefix + key, problems) for key, value in overrides.items()
                 if key in fields}
    if not problems:
        merged = dataclasses.replace(base, **converted)
        problems = [f"{prefix}{message}" for message in rule_problems(merged)]
    if problems:
        raise ParamsError(problems)
    return merged


def rule_problems(config: Any) -> list[str]:
    """What breaks the rules of a built section itself (not of its nested sections): its fields' bounds, then its
    ``check()``. ``build`` runs this; code handed a section built elsewhere (a test, a benchmark) may run it too."""
    problems = []
    for item in dataclasses.fields(config):
        bounds, value = item.metadata.get("bounds"), getattr(config, item.name)
        if (bounds is not None and isinstance(value, (int, float)) and not isinstance(value, bool)
                and math.isfinite(value) and not bounds.holds(value)):
            problems.append(f"{item.name}: must be {bounds} (got {value})")
    check = getattr(config, "check", None)
    return problems + (check() if check is not None else [])


def _field_list(cls: type) -> str:
    return ", ".join(f.name for f in dataclasses.fields(cls))


def leaf_paths(cls: type, prefix: str = "") -> list[str]:
    """Dotted paths of every leaf key of dataclass schema ``cls`` (what a DVC stage can declare)."""
    paths = []
    for name, tp in typing.get_type_hints(cls).items():
        full = f"{prefix}{name}"
        if dataclasses.is_dataclass(tp):
            paths.extend(leaf_paths(tp, full + "."))
        else:
            paths.append(full)
    return paths
