"""Loads the API description, repairing the few schema files that are not valid draft-07."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

JSON = Any

# The vendored description (see its README); ``python -m codegen --api DIR`` reads another.
DEFAULT_API = Path(__file__).resolve().parent / "losant-api"


@dataclass
class ApiSpec:
    """apiInfo.json, globalParams.json and every schema, as read (after repairs)."""

    root: Path
    api_version: str  # the API version the description was built for
    sha256: str  # of the description files, see ``description_sha256``
    api: dict[str, JSON]
    global_params: list[JSON]
    schemas: dict[str, JSON]
    repairs: list[str] = field(default_factory=list)


def load(root: Path = DEFAULT_API, api_version: str | None = None) -> ApiSpec:
    """Read the description in ``root``: apiInfo.json, globalParams.json, schemas/.

    The API version is ``api_version`` if given, else the ``apiVersion`` of source.json.
    """
    if api_version is None:
        source = root / "source.json"
        if not source.exists():
            raise SystemExit(f"{source} is missing: it names the API version (or --api-version)")
        api_version = json.loads(source.read_text())["apiVersion"]
    api = json.loads((root / "apiInfo.json").read_text())
    global_params = json.loads((root / "globalParams.json").read_text())
    schemas: dict[str, JSON] = {}
    repairs: list[str] = []
    for path in sorted((root / "schemas").glob("*.json")):
        schema = json.loads(path.read_text())
        schemas[path.stem] = _repair(path.stem, schema, repairs)
    sha256 = description_sha256(root)
    return ApiSpec(root, api_version, sha256, api, global_params, schemas, repairs)


def description_sha256(root: Path) -> str:
    """SHA-256 of the ``sha256sum`` listing of the description files, in path order.

    The same as ``find apiInfo.json globalParams.json schemas -name '*.json' | LC_ALL=C sort
    | xargs sha256sum | sha256sum`` run in ``root``.
    """
    paths = [root / "apiInfo.json", root / "globalParams.json", *(root / "schemas").glob("*.json")]
    listing = "".join(
        f"{hashlib.sha256(p.read_bytes()).hexdigest()}  {rel}\n"
        for rel, p in sorted((p.relative_to(root).as_posix(), p) for p in paths)
    )
    return hashlib.sha256(listing.encode()).hexdigest()


def _repair(name: str, schema: JSON, repairs: list[str]) -> JSON:
    """Mend the obvious defects in place; each mended spot is named in ``repairs``."""

    def walk(node: JSON, where: str) -> JSON:
        if isinstance(node, list):
            return [walk(item, f"{where}/{i}") for i, item in enumerate(node)]
        if not isinstance(node, dict):
            return node
        out: dict[str, JSON] = {}
        for key, value in node.items():
            here = f"{where}/{key}"
            if key in ("anyOf", "oneOf", "allOf") and isinstance(value, list):
                flat: list[JSON] = []
                for item in value:
                    if isinstance(item, list):
                        repairs.append(f"{name}: {here} held a list inside a list; flattened")
                        flat.extend(item)
                    else:
                        flat.append(item)
                value = flat
            elif key in ("maxItems", "minItems", "maxLength", "minLength") and isinstance(
                value, str
            ):
                repairs.append(f"{name}: {here} was the string {value!r}; made an integer")
                value = int(value)
            elif (
                key == "items"
                and isinstance(value, dict)
                and isinstance(value.get("properties"), dict)
                and value["properties"].get("type") == "object"
                and isinstance(value["properties"].get("properties"), dict)
            ):
                repairs.append(f"{name}: {here} nested the item schema under properties; lifted")
                value = value["properties"]
            out[key] = walk(value, here)
        return out

    result: JSON = walk(schema, "#")
    return result


def resolve_ref(ref: str) -> str:
    """``#/definitions/deviceState`` -> ``deviceState``."""
    return ref.rsplit("/", 1)[-1]
