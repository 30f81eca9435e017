"""JSON Schema -> msgspec Structs, lean and tolerant.

Rules, each for a reason:
- every field is optional with a ``None`` default, unknown fields are ignored and no
  length/pattern/enum constraint is enforced: responses that drift from the schema still
  decode;
- ``oneOf``/``anyOf``/type lists become one msgspec-compatible union: object variants
  merge into one Struct, array variants into one list, string variants into ``str`` (or
  ``datetime`` when every variant is a date-time string);
- nested objects become Structs named after their place (``DeviceAttributesItem``) and
  are shared wherever the same shape appears again.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from .naming import pascal, snake
from .spec import ApiSpec, resolve_ref

JSON = Any

# Field names that would shadow a name the annotations of the same class use.
_SHADOWING = {"str", "int", "float", "bool", "list", "dict", "datetime", "any", "none"}


@dataclass
class Ty:
    """A normalised type: the set of JSON kinds a value may take."""

    any: bool = False
    null: bool = False
    boolean: bool = False
    integer: bool = False
    number: bool = False
    string: str | None = None  # "str" or "datetime"
    obj: Obj | None = None
    arr: Ty | None = None

    def merge(self, other: Ty) -> Ty:
        if self.any or other.any:
            return Ty(any=True)
        out = Ty(
            null=self.null or other.null,
            boolean=self.boolean or other.boolean,
            integer=self.integer or other.integer,
            number=self.number or other.number,
        )
        if self.string and other.string:
            out.string = "datetime" if self.string == other.string == "datetime" else "str"
        else:
            out.string = self.string or other.string
        if self.obj and other.obj:
            out.obj = self.obj.merge(other.obj)
        else:
            out.obj = self.obj or other.obj
        if self.arr and other.arr:
            out.arr = self.arr.merge(other.arr)
        else:
            out.arr = self.arr or other.arr
        return out


@dataclass
class Obj:
    """An object: a Struct (``props``), a reference to a named schema, or a map."""

    props: dict[str, Ty] | None = None
    ref: str | None = None
    values: Ty | None = None  # a map's value type; None with no props/ref = dict[str, Any]
    hint: str = "Model"

    def merge(self, other: Obj) -> Obj:
        if self.props is not None and other.props is not None:
            props = dict(self.props)
            for key, ty in other.props.items():
                props[key] = props[key].merge(ty) if key in props else ty
            return Obj(props=props, hint=self.hint)
        if self.ref is not None and self.ref == other.ref:
            return self
        if self.props is None and self.ref is None and other.props is None and other.ref is None:
            if self.values and other.values:
                return Obj(values=self.values.merge(other.values), hint=self.hint)
        return Obj(hint=self.hint)


class ModelBuilder:
    """Turns every schema into Struct classes and aliases, then renders one module."""

    def __init__(self, spec: ApiSpec) -> None:
        self.spec = spec
        self.top_names = {name: pascal(name) for name in spec.schemas}
        self.taken = set(self.top_names.values())
        self.by_signature: dict[tuple[Any, ...], str] = {}
        self.classes: list[tuple[str, str | None, list[tuple[str, str, str]], str]] = []
        self.aliases: dict[str, str] = {}

    # -- schema -> Ty -------------------------------------------------------------

    def ty(self, schema: JSON, hint: str) -> Ty:
        if not isinstance(schema, dict):
            return Ty(any=True)
        if "$ref" in schema:
            target = resolve_ref(schema["$ref"])
            if target in self.spec.schemas and schema["$ref"].startswith("#/definitions/"):
                return Ty(obj=Obj(ref=target, hint=hint))
            return Ty(any=True)
        variants = [
            *schema.get("oneOf", []),
            *schema.get("anyOf", []),
        ]
        result: Ty | None = None
        if variants:
            for variant in variants:
                vt = self.ty(variant, hint)
                result = vt if result is None else result.merge(vt)
        for part in schema.get("allOf", []):
            pt = self.ty(part, hint)
            result = pt if result is None else result.merge(pt)
        declared = schema.get("type")
        if declared is not None:
            types = declared if isinstance(declared, list) else [declared]
            own: Ty | None = None
            for name in types:
                t = self._simple(name, schema, hint)
                own = t if own is None else own.merge(t)
            if own is not None:
                # With both "type" and "oneOf", the variants refine the declared type.
                result = own if result is None or result.any else result
        elif result is None and ("properties" in schema or "patternProperties" in schema):
            result = self._simple("object", schema, hint)
        return result if result is not None else Ty(any=True)

    def _simple(self, name: str, schema: JSON, hint: str) -> Ty:
        if name == "null":
            return Ty(null=True)
        if name == "boolean":
            return Ty(boolean=True)
        if name == "integer":
            return Ty(integer=True)
        if name == "number":
            return Ty(integer=True, number=True)
        if name == "string":
            return Ty(string="datetime" if schema.get("format") == "date-time" else "str")
        if name == "array":
            items = schema.get("items")
            if isinstance(items, list):
                item_ty: Ty | None = None
                for i, item in enumerate(items):
                    t = self.ty(item, f"{hint}Item{i}")
                    item_ty = t if item_ty is None else item_ty.merge(t)
                return Ty(arr=item_ty or Ty(any=True))
            return Ty(arr=self.ty(items, hint + "Item") if items is not None else Ty(any=True))
        if name == "object":
            props = schema.get("properties")
            if isinstance(props, dict) and props:
                return Ty(
                    obj=Obj(
                        props={k: self.ty(v, hint + pascal(k)) for k, v in props.items()},
                        hint=hint,
                    )
                )
            value_schemas = [
                v for v in (schema.get("patternProperties") or {}).values() if isinstance(v, dict)
            ]
            extra = schema.get("additionalProperties")
            if isinstance(extra, dict):
                value_schemas.append(extra)
            values: Ty | None = None
            for vs in value_schemas:
                t = self.ty(vs, hint + "Value")
                values = t if values is None else values.merge(t)
            return Ty(obj=Obj(values=values, hint=hint))
        return Ty(any=True)

    # -- Ty -> annotation --------------------------------------------------------

    def annotation(self, ty: Ty, *, nullable: bool) -> str:
        if ty.any:
            return "Any"
        parts: list[str] = []
        if ty.string:
            parts.append(ty.string)
        if ty.integer:
            parts.append("int")
        if ty.number:
            parts.append("float")
        if ty.boolean:
            parts.append("bool")
        if ty.obj is not None:
            parts.append(self.object_annotation(ty.obj))
        if ty.arr is not None:
            parts.append(f"list[{self.annotation(ty.arr, nullable=False)}]")
        if "Any" in parts:
            return "Any"
        if (ty.null or nullable) and parts:
            parts.append("None")
        return " | ".join(parts) if parts else "None"

    def object_annotation(self, obj: Obj) -> str:
        if obj.ref is not None:
            return self.top_names[obj.ref]
        if obj.props is not None:
            return self.struct(obj.hint, obj.props, None, top=False)
        value = "Any" if obj.values is None else self.annotation(obj.values, nullable=False)
        return f"dict[str, {value}]"

    def struct(self, hint: str, props: dict[str, Ty], doc: str | None, *, top: bool) -> str:
        fields: list[tuple[str, str, str]] = []
        used: set[str] = set()
        for json_name, ty in props.items():
            attr = snake(json_name)
            if attr in _SHADOWING:
                attr += "_"
            while attr in used:
                attr += "_"
            used.add(attr)
            fields.append((attr, json_name, self.annotation(ty, nullable=True)))
        signature = tuple(fields)
        if not top and signature in self.by_signature:
            return self.by_signature[signature]
        name = hint
        if not top:
            n = 2
            while name in self.taken:
                name = f"{hint}{n}"
                n += 1
            self.taken.add(name)
        self.by_signature.setdefault(signature, name)
        self.classes.append((name, doc, fields, "Model"))
        return name

    # -- whole module ------------------------------------------------------------

    def build(self, names: list[str]) -> None:
        """Build the given top-level schemas, smallest first so containers reuse them."""
        for name in sorted(names, key=lambda n: (len(repr(self.spec.schemas[n])), n)):
            schema = self.spec.schemas[name]
            cls = self.top_names[name]
            ty = self.ty(schema, cls)
            doc = _doc(name, schema)
            if ty.obj is not None and ty.obj.props is not None and not _other_kinds(ty):
                signature_name = self._existing(ty.obj.props, cls)
                if signature_name is not None:
                    self.classes.append((cls, doc, [], signature_name))
                else:
                    self.struct(cls, ty.obj.props, doc, top=True)
            else:
                self.aliases[cls] = self.annotation(ty, nullable=False)

    def _existing(self, props: dict[str, Ty], cls: str) -> str | None:
        before = len(self.classes)
        probe = self.struct(cls + "__probe", props, None, top=False)
        if len(self.classes) > before and self.classes[-1][0] == probe:
            # A new shape: drop the probe, the caller adds it under its own name.
            self.classes.pop()
            self.taken.discard(probe)
            for sig, n in list(self.by_signature.items()):
                if n == probe:
                    del self.by_signature[sig]
            return None
        return probe

    def aliases_in_order(self) -> list[tuple[str, str]]:
        """Each alias with its annotation, defined after the aliases it mentions."""
        return [(alias, self.aliases[alias]) for alias in _alias_order(self.aliases)]


def _other_kinds(ty: Ty) -> bool:
    return (
        ty.any
        or ty.boolean
        or ty.integer
        or ty.number
        or ty.string is not None
        or ty.arr is not None
    )


def _doc(name: str, schema: JSON) -> str:
    title = schema.get("title") if isinstance(schema, dict) else None
    desc = schema.get("description") if isinstance(schema, dict) else None
    text = f"{title}: {desc}" if title and desc else (title or desc or "")
    return f"``{name}``" + (f": {text}" if text else "")


def _alias_order(aliases: dict[str, str]) -> list[str]:
    """Aliases in an order where each is defined after the aliases it mentions."""
    order: list[str] = []
    seen: set[str] = set()

    def visit(name: str) -> None:
        if name in seen:
            return
        seen.add(name)
        for word in re.findall(r"[A-Za-z_][A-Za-z0-9_]*", aliases[name]):
            if word in aliases and word != name:
                visit(word)
        order.append(name)

    for alias in sorted(aliases):
        visit(alias)
    return order
