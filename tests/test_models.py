"""The generated models: every type exported under a name that says where it lives, and
the ``Model`` helpers that turn a model into plain data and back."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

import msgspec
import pytest

from codegen.models import ModelBuilder, module_layout
from codegen.naming import pascal
from codegen.spec import load as load_spec
from losant_async import models
from losant_async._generated.models import MODULES
from losant_async._generated.models import _all as generated

PACKAGE = "losant_async._generated.models"
SPEC = load_spec()
REFERENCED = sorted(set(re.findall(r"#/definitions/(\w+)", json.dumps(SPEC.api))))
# Every Struct the generated modules define, found without asking ``__all__``.
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


def test_the_names_and_modules_do_not_depend_on_the_order_the_schemas_are_read() -> None:
    def build(reverse: bool) -> tuple[list[Any], list[tuple[str, str]], dict[str, str]]:
        spec = load_spec()
        if reverse:
            spec.schemas = dict(reversed(spec.schemas.items()))
        builder = ModelBuilder(spec)
        builder.build(list(reversed(REFERENCED)) if reverse else REFERENCED)
        layout = module_layout(builder)
        return sorted(builder.classes), sorted(builder.aliases_in_order()), layout

    classes, aliases, layout = build(False)
    assert (classes, aliases, layout) == build(True)
    # What was built is what the package holds, in the modules the layout gives.
    assert {c[0] for c in classes} == {cls.__name__ for cls in DEFINED}
    assert layout == MODULES
    assert all(cls.__module__ == f"{PACKAGE}.{layout[cls.__name__]}" for cls in DEFINED)


# -- to_dict / to_json / from_dict / from_json -------------------------------------------

WHEN = datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC)


def _sample(info: Info, depth: int) -> Any:
    """A value of the type ``info`` with every field filled, down to ``depth`` levels."""
    if isinstance(info, msgspec.inspect.UnionType):
        members = [t for t in info.types if not isinstance(t, msgspec.inspect.NoneType)]
        # Prefer the richest member, so nested Structs inside unions are exercised.
        ranked = sorted(members, key=lambda t: not isinstance(t, msgspec.inspect.StructType))
        return _sample(ranked[0], depth)
    if isinstance(info, msgspec.inspect.StructType):
        if depth == 0:
            return None
        kwargs = {f.name: _sample(f.type, depth - 1) for f in info.fields}
        return info.cls(**kwargs)
    if isinstance(info, msgspec.inspect.ListType):
        item = _sample(info.item_type, depth)
        return [] if item is None else [item]
    if isinstance(info, msgspec.inspect.DictType):
        value = _sample(info.value_type, depth)
        return {} if value is None else {"k": value}
    samples: dict[type, Any] = {
        msgspec.inspect.StrType: "text",
        msgspec.inspect.IntType: 7,
        msgspec.inspect.FloatType: 1.5,
        msgspec.inspect.BoolType: True,
        msgspec.inspect.DateTimeType: WHEN,
        msgspec.inspect.AnyType: {"any": [1, "two", None]},
    }
    return samples[type(info)]


def _check_keys(info: Info, data: Any, *, python: bool) -> int:
    """Every key of ``data`` is the field's wire (or attribute) name; returns keys checked."""
    if isinstance(info, msgspec.inspect.UnionType):
        structs = [t for t in info.types if isinstance(t, msgspec.inspect.StructType)]
        if structs and isinstance(data, dict):
            return _check_keys(structs[0], data, python=python)
        lists = [t for t in info.types if isinstance(t, msgspec.inspect.ListType)]
        return _check_keys(lists[0], data, python=python) if lists and isinstance(data, list) else 0
    if isinstance(info, msgspec.inspect.StructType):
        by_key = {(f.name if python else f.encode_name): f for f in info.fields}
        assert set(data) <= set(by_key), (info.cls.__name__, set(data) - set(by_key))
        return len(data) + sum(
            _check_keys(by_key[k].type, v, python=python) for k, v in data.items()
        )
    if isinstance(info, msgspec.inspect.ListType):
        return sum(_check_keys(info.item_type, v, python=python) for v in data)
    if isinstance(info, msgspec.inspect.DictType):
        return sum(_check_keys(info.value_type, v, python=python) for v in data.values())
    return 0


SAMPLED = [
    "Device",
    "DevicePost",
    "AdvancedDeviceQuery",
    "Dashboard",
    "Application",
    "Flow",
    "ApiTokenPost",
    "DevicesExportPost",
    "DashboardBlockConfigControl",
    "CompositeDevicesState",
    "InstanceOrg",
    "Event",
]


@pytest.mark.parametrize("name", SAMPLED)
def test_a_model_round_trips_through_dict_and_json(name: str) -> None:
    cls = getattr(models, name)
    info = msgspec.inspect.type_info(cls)
    model = _sample(info, depth=4)
    data = model.to_dict()
    assert isinstance(data, dict) and data
    assert _check_keys(info, data, python=False) > len(data)  # nested keys were checked
    json.dumps(data)  # plain data, no Struct or datetime left
    assert cls.from_dict(data) == model
    assert cls.from_json(model.to_json()) == model
    assert json.loads(model.to_json()) == data

    py = model.to_dict(python_names=True)
    assert _check_keys(info, py, python=True) > len(py)
    assert json.loads(model.to_json(python_names=True)) == py


def test_to_dict_names_and_omissions() -> None:
    device = models.Device(
        device_id="d1",
        creation_date=WHEN,
        tags=[models.DeviceTag(key="floor", value="2")],
        connection_info=models.DeviceConnectionInfo(),
    )
    assert device.to_dict() == {
        "deviceId": "d1",
        "creationDate": "2024-05-06T07:08:09Z",
        "tags": [{"key": "floor", "value": "2"}],
        "connectionInfo": {},
    }
    assert device.to_dict(python_names=True) == {
        "device_id": "d1",
        "creation_date": "2024-05-06T07:08:09Z",
        "tags": [{"key": "floor", "value": "2"}],
        "connection_info": {},
    }
    # A wire name msgspec's camelCase rule would not give is kept as the API spells it.
    oauth = models.UserOauthTokenPostOauth(client_id="c", resource=["https://x"])
    assert oauth.to_dict() == {"client_id": "c", "resource": ["https://x"]}
    assert oauth.to_dict(python_names=True) == {"client_id": "c", "resource": ["https://x"]}
    query = models.AdvancedDeviceQuery(or_=[models.AdvancedDeviceQuery(name="a")])
    assert query.to_dict() == {"$or": [{"name": "a"}]}
    assert query.to_dict(python_names=True) == {"or_": [{"name": "a"}]}
    # Map keys are data, never renamed.
    state = models.DeviceState(data={"temp_c": 21})
    assert state.to_dict(python_names=True) == {"data": {"temp_c": 21}}


def test_from_dict_and_from_json_reject_wrong_types() -> None:
    with pytest.raises(msgspec.ValidationError, match=r"\$\.tags\[0\]\.key"):
        models.Device.from_dict({"tags": [{"key": 5}]})
    with pytest.raises(msgspec.ValidationError):
        models.Device.from_json(b'{"creationDate": "yesterday"}')
    with pytest.raises(msgspec.DecodeError):
        models.Device.from_json(b"{")
    # Unknown fields are ignored, as in responses.
    assert models.Device.from_dict({"deviceId": "d", "extra": 1}) == models.Device(device_id="d")
