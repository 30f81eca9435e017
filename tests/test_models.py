"""The generated models: every type exported under a name that says where it lives."""

from __future__ import annotations

import json
import re
from typing import Any

import msgspec
import pytest

from codegen.models import ModelBuilder
from codegen.naming import pascal
from codegen.spec import load as load_spec
from losant_async import models
from losant_async._generated import models as generated

SPEC = load_spec()
REFERENCED = sorted(set(re.findall(r"#/definitions/(\w+)", json.dumps(SPEC.api))))
# Every Struct the generated module defines, found without asking ``__all__``.
DEFINED = sorted(
    (
        v
        for v in vars(generated).values()
        if isinstance(v, type) and issubclass(v, models.Model) and v is not models.Model
    ),
    key=lambda cls: cls.__name__,
)
Info = msgspec.inspect.Type


def _structs_in(info: Info, seen: set[type]) -> None:
    """Every Struct type reachable from ``info``: fields, union members, list items, maps."""
    if isinstance(info, msgspec.inspect.StructType):
        if info.cls in seen:
            return
        seen.add(info.cls)
        for f in info.fields:
            _structs_in(f.type, seen)
    elif isinstance(info, msgspec.inspect.UnionType):
        for member in info.types:
            _structs_in(member, seen)
    elif isinstance(info, msgspec.inspect.ListType | msgspec.inspect.SetType):
        _structs_in(info.item_type, seen)
    elif isinstance(info, msgspec.inspect.DictType):
        _structs_in(info.key_type, seen)
        _structs_in(info.value_type, seen)


def _reachable() -> set[type]:
    seen: set[type] = set()
    roots = [getattr(generated, pascal(n)) for n in REFERENCED] + DEFINED
    for info in msgspec.inspect.multi_type_info(roots):
        _structs_in(info, seen)
    return seen


def test_every_type_a_model_uses_is_exported_under_its_own_name() -> None:
    reached = _reachable()
    assert models.DeviceTagFilterItem in reached  # a nested type the request bodies use
    assert len(reached) >= len(DEFINED) > 600
    for cls in reached:
        assert cls.__name__ in models.__all__, cls.__name__
        assert getattr(models, cls.__name__) is cls, cls.__name__
    # The aliases too (``DeviceLog = list[DeviceLogItem]``), and nothing unknown.
    for name in models.__all__:
        assert hasattr(models, name), name
    assert len(models.__all__) == len(set(models.__all__))


def test_no_two_model_names_differ_only_by_a_number() -> None:
    names = {cls.__name__ for cls in DEFINED} | set(models.__all__)
    numbered = sorted(n for n in names if re.search(r"\d$", n))
    # ``S3`` is the storage service's name, not a number added to keep names apart.
    assert numbered == ["ApplicationArchiveConfigS3"]
    for name in numbered:
        assert name.rstrip("0123456789") not in names, name


def _field_type(cls: type, attr: str) -> Info:
    info = msgspec.inspect.type_info(cls)
    assert isinstance(info, msgspec.inspect.StructType)
    return next(f.type for f in info.fields if f.name == attr)


def _struct_names(info: Info) -> set[str]:
    seen: set[type] = set()
    if isinstance(info, msgspec.inspect.StructType):
        return {info.cls.__name__}
    if isinstance(info, msgspec.inspect.UnionType):
        return set().union(*(_struct_names(t) for t in info.types))
    if isinstance(info, msgspec.inspect.ListType | msgspec.inspect.DictType):
        inner = info.item_type if isinstance(info, msgspec.inspect.ListType) else info.value_type
        return _struct_names(inner)
    _structs_in(info, seen)
    return {c.__name__ for c in seen}


@pytest.mark.parametrize(
    ("model", "attr", "expected"),
    [
        # A list item is the singular of its field, after the owner.
        ("Device", "tags", "DeviceTag"),
        ("DevicePost", "tags", "DeviceTag"),  # a variant of the same resource shares it
        ("DeviceRecipe", "tags", "DeviceRecipeTag"),
        # ``DeviceAttribute`` is the API's own schema (with two more fields).
        ("Device", "attributes", "DeviceAttributesItem"),
        ("Device", "connection_info", "DeviceConnectionInfo"),
        # A collection's items are the schema its name is the plural of.
        ("Devices", "items", "Device"),
        ("Applications", "items", "Application"),
        # An inlined schema of the same shape whose name ends with the field's is that schema.
        ("DevicesExportPost", "query", "AdvancedDeviceQuery"),
        # ``flowStats`` is a schema of another shape: the field's object is named apart.
        ("Flow", "stats", "FlowStatsObject"),
        ("Dashboard", "blocks", "DashboardBlock"),
        ("ApplicationSummary", "payload_count", "SummaryPayloadCount"),
    ],
)
def test_a_nested_type_is_named_for_where_it_lives(model: str, attr: str, expected: str) -> None:
    assert _struct_names(_field_type(getattr(models, model), attr)) == {expected}


def test_the_names_do_not_depend_on_the_order_the_schemas_are_read() -> None:
    def build(reverse: bool) -> tuple[list[Any], list[tuple[str, str]]]:
        spec = load_spec()
        if reverse:
            spec.schemas = dict(reversed(spec.schemas.items()))
        builder = ModelBuilder(spec)
        builder.build(list(reversed(REFERENCED)) if reverse else REFERENCED)
        return sorted(builder.classes), sorted(builder.aliases_in_order())

    classes, aliases = build(False)
    assert (classes, aliases) == build(True)
    # What was built is what the package holds.
    assert {c[0] for c in classes} == {cls.__name__ for cls in DEFINED}
