"""The models load on demand: a call loads the generated modules of the models it decodes
(and the modules those import), never all of them; each name exists once.

Loading is observed in fresh interpreters (``sys.modules`` and the ``Model`` subclasses
that exist), never timed.
"""

from __future__ import annotations

import ast
import json
import pickle
import sys
from importlib import import_module
from pathlib import Path
from typing import Any

import anyio
import msgspec
import pytest

from losant_async import models
from losant_async._generated.models import MODELS, MODULES, _all
from losant_async._models import Model
from losant_async.testing import FakeLosant

PACKAGE = "losant_async._generated.models"
FOLDER = Path(sys.modules[PACKAGE].__file__ or "").parent
CLASSES = sum(isinstance(v, type) and issubclass(v, Model) for v in vars(_all).values())

# Runs in a fresh interpreter: the statements of argv[1], then prints what was loaded.
CHILD = """
import json, sys

exec(sys.argv[1])

from losant_async._models import Model

def subclasses(cls):
    for sub in cls.__subclasses__():
        yield sub
        yield from subclasses(sub)

print(json.dumps({
    "modules": sorted(m for m in sys.modules if m.startswith("losant_async._generated.models")),
    "classes": sorted({c.__name__ for c in subclasses(Model)}),
    "public": "losant_async.models" in sys.modules,
}))
"""


async def loaded_by(statements: str) -> dict[str, Any]:
    done = await anyio.run_process([sys.executable, "-c", CHILD, statements], check=False)
    assert done.returncode == 0, done.stderr.decode()
    found: dict[str, Any] = json.loads(done.stdout)
    return found


def imports_of(module: str) -> set[str]:
    """The sibling modules a generated module imports, read from its source."""
    tree = ast.parse((FOLDER / f"{module}.py").read_text())
    return {
        node.module
        for node in tree.body
        if isinstance(node, ast.ImportFrom) and node.level == 1 and node.module
    }


def needed(*names: str) -> set[str]:
    """The dotted names of the modules defining ``names`` and of every module they import."""
    todo, seen = [MODULES[n] for n in names], set()
    while todo:
        module = todo.pop()
        if module not in seen:
            seen.add(module)
            todo.extend(imports_of(module))
    return {PACKAGE, *(f"{PACKAGE}.{m}" for m in seen)}


def structs_in(cls: type) -> set[str]:
    """The names of every Struct a decoder of ``cls`` builds."""
    seen: set[str] = set()

    def walk(info: msgspec.inspect.Type) -> None:
        if isinstance(info, msgspec.inspect.StructType):
            if info.cls.__name__ not in seen:
                seen.add(info.cls.__name__)
                for f in info.fields:
                    walk(f.type)
        elif isinstance(info, msgspec.inspect.UnionType):
            for member in info.types:
                walk(member)
        elif isinstance(info, msgspec.inspect.ListType):
            walk(info.item_type)
        elif isinstance(info, msgspec.inspect.DictType):
            walk(info.value_type)

    walk(msgspec.inspect.type_info(cls))
    return seen


def test_the_index_names_every_model_once_and_the_module_that_defines_it() -> None:
    assert sorted(MODULES) == sorted(models.__all__[1:]) == models.__all__[1:]
    assert sum(len(names) for names in MODELS.values()) == len(MODULES)
    # Many modules, none holding a large part of the models.
    assert len(MODELS) > 20
    assert max(len(names) for names in MODELS.values()) < len(MODULES) / 5
    for name, module in MODULES.items():
        assert getattr(models, name) is getattr(import_module(f"{PACKAGE}.{module}"), name)


@pytest.mark.anyio
async def test_importing_the_client_and_the_models_loads_no_model() -> None:
    found = await loaded_by("from losant_async import LosantClient\nimport losant_async.models")
    assert found["modules"] == [PACKAGE]  # the index alone
    assert found["classes"] == []


@pytest.mark.anyio
async def test_a_name_loads_its_module_and_what_that_module_imports() -> None:
    found = await loaded_by("from losant_async.models import Device")
    assert set(found["modules"]) == needed("Device")
    assert structs_in(models.Device) <= set(found["classes"])
    assert len(found["classes"]) < CLASSES / 4


CALLS = {
    # Seeded IDs are filled in by the test.
    "instance_org.payload_counts_breakdown": (
        "PayloadCountsBreakdown",
        "client.instance_org.payload_counts_breakdown("
        "instance_id=ids['instance_id'], org_id=ids['org_id'], start=0, resolution=86400000)",
    ),
    "device.get": (
        "Device",
        "client.device.get(application_id=ids['application_id'], device_id=ids['device_id'])",
    ),
    "application.get": (
        "Application",
        "client.application.get(application_id=ids['application_id'])",
    ),
}

FIRST_CALL = """
import asyncio, json
from losant_async import LosantClient
ids = json.loads({ids!r})

async def main():
    async with LosantClient({token!r}, base_url={url!r}) as client:
        result = await {call}
        assert type(result).__name__ == {model!r}, result

asyncio.run(main())
"""


@pytest.mark.anyio
@pytest.mark.parametrize("call", list(CALLS))
async def test_a_first_call_loads_only_the_models_it_decodes(server: FakeLosant, call: str) -> None:
    model, expression = CALLS[call]
    ids = {
        "instance_id": server.ids.instance_id,
        "org_id": server.ids.org_id,
        "application_id": server.ids.application_id,
        "device_id": server.ids.device_id,
    }
    code = FIRST_CALL.format(
        ids=json.dumps(ids), token=server.token, url=server.url, call=expression, model=model
    )
    found = await loaded_by(code)
    # The response's module and the modules it imports: exactly those, a small part.
    assert set(found["modules"]) == needed(model)
    assert structs_in(getattr(models, model)) <= set(found["classes"])
    assert len(found["classes"]) < CLASSES / 4
    assert not found["public"]  # the transport reads the index, not losant_async.models
    assert [e.status for e in server.journal] == [200]  # the call reached the server


@pytest.mark.anyio
async def test_every_module_loads_first_and_builds_decoders_for_its_models() -> None:
    """Each module alone in a fresh set of modules: its imports resolve (no cycle), and the
    decoders of its models resolve every annotation across modules (recursive ones too)."""
    code = f"""
import importlib, sys, msgspec
from losant_async._generated.models import MODELS
for module, names in MODELS.items():
    for loaded in [m for m in sys.modules if m.startswith("{PACKAGE}.")]:
        del sys.modules[loaded]
    found = importlib.import_module("{PACKAGE}." + module)
    for name in names:
        msgspec.json.Decoder(getattr(found, name))
"""
    await loaded_by(code)


def test_a_model_exists_once_whichever_way_it_is_reached() -> None:
    from losant_async._models import model_type

    device = models.Device(device_id="d1", tags=[models.DeviceTag(key="k", value="v")])
    again = pickle.loads(pickle.dumps(device))
    assert again == device and type(again) is models.Device
    assert again.tags is not None and isinstance(again.tags[0], models.DeviceTag)
    assert model_type("Device") is models.Device is _all.Device
    assert type(msgspec.json.decode(device.to_json(), type=model_type("Device"))) is models.Device


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="NoSuchModel"):
        models.NoSuchModel  # type: ignore[attr-defined]  # noqa: B018
    assert not hasattr(models, "NoSuchModel")
    assert "Device" in dir(models) and "Model" in dir(models)
