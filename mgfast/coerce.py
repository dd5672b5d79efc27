"""Option values from TOML, JSON or the command line, checked and converted to the type a signature declares.

TOML and JSON give lists where a signature asks for tuples and ints where it asks for floats; this module
turns them into the declared type (read with :func:`typing.get_type_hints`) or says which option has the
wrong type. ``Literal`` hints double as the list of allowed values.
"""

from __future__ import annotations

import collections.abc
import inspect
import types
import typing
from typing import Any, Literal, Union


class WrongType(ValueError):
    """A value that does not fit its option's declared type; the message names the option."""


def keyword_options(function: object, exclude: collections.abc.Container[str] = ()) -> dict[str, inspect.Parameter]:
    """The keyword-only parameters of ``function`` (a class means its ``__init__``), by name, with their
    annotations resolved to types; ``exclude`` names the ones the caller fills itself."""
    target = function.__init__ if inspect.isclass(function) else function
    hints = typing.get_type_hints(target)
    return {p.name: p.replace(annotation=hints.get(p.name, Any))
            for p in inspect.signature(target).parameters.values()
            if p.kind is inspect.Parameter.KEYWORD_ONLY and p.name not in exclude}


def coerce(value: Any, hint: Any, name: str) -> Any:
    """``value`` as type ``hint``; raises :class:`WrongType` naming ``name`` when it does not fit."""
    origin = typing.get_origin(hint)
    if origin is Literal:
        if value not in typing.get_args(hint) or isinstance(value, bool):
            choices = ", ".join(str(choice) for choice in typing.get_args(hint))
            raise WrongType(f"{name} must be one of {choices}, got {value!r}")
        return value
    try:
        return _convert(value, hint)
    except (TypeError, ValueError):
        raise WrongType(f"{name} = {value!r} has the wrong type (expected {_describe(hint)})") from None


def _convert(value: Any, hint: Any) -> Any:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint is Any:
        return value
    if origin in (Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        for option in args:
            if option is type(None):
                continue
            try:
                return coerce(value, option, "")
            except WrongType:
                continue
        raise TypeError
    if value is None:
        raise TypeError
    if hint is bool:
        if not isinstance(value, bool):
            raise TypeError
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError
        return value
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise TypeError
        return float(value)
    if hint is str:
        if not isinstance(value, str):
            raise TypeError
        return value
    if origin is dict or hint is dict:
        if not isinstance(value, dict):
            raise TypeError
        return dict(value)
    if origin in (tuple, list, collections.abc.Sequence) or hint in (tuple, list):
        if isinstance(value, (str, bytes, dict)) or not isinstance(value, collections.abc.Iterable):
            raise TypeError
        items = list(value)
        if origin is tuple and args and args[-1] is not Ellipsis:
            if len(items) != len(args):
                raise ValueError
            return tuple(_convert(item, kind) for item, kind in zip(items, args))
        kind = args[0] if args else Any
        converted = [_convert(item, kind) for item in items]
        return converted if origin is list or hint is list else tuple(converted)
    if isinstance(hint, type) and isinstance(value, hint):
        return value
    raise TypeError


def _describe(hint: Any) -> str:
    return hint.__name__ if isinstance(hint, type) else str(hint).replace("typing.", "")
