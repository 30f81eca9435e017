"""The base of every generated model."""

from __future__ import annotations

from collections.abc import Mapping
from importlib import import_module
from types import ModuleType
from typing import Any, Self

import msgspec


class Model(msgspec.Struct, kw_only=True, omit_defaults=True, rename="camel"):
    """A Losant API object.

    Decoding ignores unknown fields and leaves absent ones ``None``, so responses that
    drift from the published schema still decode. Encoding omits ``None`` fields, so a
    partly filled model is a valid PATCH body.
    """

    def to_dict(self, *, python_names: bool = False) -> dict[str, Any]:
        """The model as JSON-ready data (dicts, lists, strings, numbers); ``None`` fields omitted.

        Keys are the API's (camelCase) names, as sent on the wire; ``python_names=True``
        gives the attribute names (``device_id``) instead, at every depth. Datetimes
        become ISO 8601 strings.
        """
        if python_names:
            out: dict[str, Any] = _python_builtins(self)
            return out
        data: dict[str, Any] = msgspec.to_builtins(self)
        return data

    def to_json(self, *, python_names: bool = False) -> bytes:
        """The model as JSON bytes, keyed as ``to_dict()`` keys it."""
        if python_names:
            return msgspec.json.encode(_python_builtins(self))
        return msgspec.json.encode(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Self:
        """The model from data keyed by the API's names, as ``to_dict()`` returns it.

        Raises ``msgspec.ValidationError`` when a value has the wrong type.
        """
        return msgspec.convert(data if isinstance(data, dict) else dict(data), cls)

    @classmethod
    def from_json(cls, data: bytes | str) -> Self:
        """The model from JSON text with the API's names, as ``to_json()`` writes it.

        Raises ``msgspec.ValidationError`` (or ``msgspec.DecodeError`` for invalid JSON).
        """
        return msgspec.json.decode(data, type=cls)


def _python_builtins(value: Any) -> Any:
    """``msgspec.to_builtins`` with attribute names in place of wire names."""
    if isinstance(value, msgspec.Struct):
        return {
            f.name: _python_builtins(v)
            for f in msgspec.structs.fields(value)
            if (v := getattr(value, f.name)) is not None
        }
    if isinstance(value, list | tuple):
        return [_python_builtins(v) for v in value]
    if isinstance(value, dict):
        return {k: _python_builtins(v) for k, v in value.items()}
    return msgspec.to_builtins(value)


def model_type(name: str) -> type[Model]:
    """The generated model class called ``name``, loaded on first use: the one place a
    model name from generated code becomes a type."""
    cls: type[Model] = getattr(model_module(name), name)
    return cls


def model_module(name: str) -> ModuleType:
    """The generated module defining the model (or alias) ``name``, imported on first use
    with the modules of the models it refers to, and no others."""
    from ._generated.models import MODULES

    return import_module(f"{__package__}._generated.models.{MODULES[name]}")
