"""The components as a Pulumi package: one token module, aliases for the old tokens, dict inputs.

Pulumi serves Python components to other languages with
``pulumi.provider.experimental.component_provider_host`` (``provider/__main__.py``). Its provider
accepts only the ``index`` module in type tokens and hands a component its Args as a plain dict
(nested objects as dicts, enums as strings): :func:`from_inputs` turns that into the typed Args
the components use, so one code path serves this repository's program and every SDK.
"""

import collections.abc
import dataclasses
import enum
import types
import typing
from typing import Any, TypeVar

import pulumi

PACKAGE = "imgpipe"
T = TypeVar("T")
_SEQUENCES = (list, tuple, collections.abc.Sequence)


def component_type(name: str) -> str:
    """The package token of a component: ``imgpipe:index:<Name>``."""
    return f"{PACKAGE}:index:{name}"


def package_options(legacy_type: str, opts: pulumi.ResourceOptions | None) -> pulumi.ResourceOptions:
    """``opts`` plus an alias to the token the component had before the package (``imgpipe:
    <module>:<Name>``), so a stack deployed before the move keeps its resources: Pulumi maps the
    old URN to the new one instead of replacing, and children inherit their parent's aliases
    (Pulumi docs, "Resource option: aliases")."""
    return pulumi.ResourceOptions.merge(
        opts, pulumi.ResourceOptions(aliases=[pulumi.Alias(type_=legacy_type)])
    )


def _convert(hint: Any, value: Any) -> Any:
    if value is None:
        return None
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        options = [a for a in typing.get_args(hint) if a is not type(None)]
        for option in options:  # the first member the value converts to (Input[X] = X | Output…)
            if isinstance(option, type) and dataclasses.is_dataclass(option) and isinstance(value, dict):
                return _convert(option, value)
            if isinstance(option, type) and issubclass(option, enum.Enum) and isinstance(value, str):
                return option(value)
            if typing.get_origin(option) in _SEQUENCES and isinstance(value, list | tuple):
                return _convert(option, value)
        return value
    if origin in _SEQUENCES and isinstance(value, list | tuple):
        args = typing.get_args(hint)
        items = [_convert(args[0], v) for v in value] if args else list(value)
        return tuple(items) if origin is tuple else items
    if isinstance(hint, type) and dataclasses.is_dataclass(hint) and isinstance(value, dict):
        return from_inputs(hint, value)
    if isinstance(hint, type) and issubclass(hint, enum.Enum) and isinstance(value, str):
        return hint(value)
    return value


def from_inputs(cls: type[T], value: T | dict[str, Any]) -> T:
    """``value`` as ``cls`` (a dataclass): returned as is when it already is one, else built from
    the provider's dict (snake_case keys), converting nested dataclasses, enums and lists."""
    if isinstance(value, cls):
        return value
    if not isinstance(value, dict):
        raise TypeError(
            f"{cls.__name__}: expected {cls.__name__} or a dict of inputs, not {type(value).__name__}"
        )
    # pulumi.Input[T] holds the forward reference "Output[T]": resolve it in any module.
    hints = typing.get_type_hints(cls, localns={"Output": pulumi.Output, "T": Any})
    known = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = sorted(set(value) - known)
    if unknown:
        raise TypeError(f"{cls.__name__}: unknown inputs {unknown}; known: {sorted(known)}")
    return cls(**{k: _convert(hints[k], v) for k, v in value.items()})
