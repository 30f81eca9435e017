"""JSON Schema -> msgspec Structs, lean and tolerant.

Rules, each for a reason:
- every field is optional with a ``None`` default, unknown fields are ignored and no
  length/pattern/enum constraint is enforced: responses that drift from the schema still
  decode;
- ``oneOf``/``anyOf``/type lists become one msgspec-compatible union: object variants
  merge into one Struct, array variants into one list, string variants into ``str`` (or
  ``datetime`` when every variant is a date-time string).

Naming. A top-level schema (``#/definitions/deviceAttributePost``) keeps its own name in
PascalCase (``DeviceAttributePost``). A nested object is named for where it lives: the
name of the model that holds it, then its field, so every name says where to find it:

- the object in field ``f`` of ``Owner``: ``Owner`` + ``F`` (``DeviceConnectionInfo``);
- an item of a list field ``fs``: ``Owner`` + the singular ``F`` (``device.tags[]`` is
  ``DeviceTag``), or ``Owner`` + ``Fs`` + ``Item`` when ``fs`` is not a plural, a sibling
  field has the singular name, or a top-level schema has it (``device.attributes[]`` is
  ``DeviceAttributesItem``: ``DeviceAttribute`` is the API's own ``deviceAttribute``);
- an item of a collection's ``items`` or of a top-level list: the singular of the owner
  (``devices.items[]`` is ``Device``), else ``Owner`` + ``Item``;
- a value of a map field ``f``: ``Owner`` + ``F`` + ``Value``;
- ``Owner`` + ``F`` + ``Object`` when ``Owner`` + ``F`` is a top-level schema of another
  shape (``flow.stats`` is ``FlowStatsObject``, apart from ``flowStats``).

A nested object with exactly the shape of a top-level schema whose name ends with the
field's (singular) name is that schema: ``devices.items[]`` is ``Device`` and
``devicesExportPost.query`` is ``AdvancedDeviceQuery``; ``device.attributes[]`` is not
``DeviceAttributePost``.

A shape is shared by the variants of one resource: names are first built from the owner's
family, the top-level name without a trailing ``Post``, ``Patch`` or ``PostResponse``
(``devicePost.tags[]`` and ``device.tags[]`` are both ``DeviceTag``). A family name held
by two different shapes is used by neither: each place then takes its own name, from its
owner's actual name (``DevicePostTag``). Places of one shape in different resources
whose names end alike, in the field's words and at least one word of the owner, share
that ending (``applicationSummary.payloadCount`` and ``orgSummary.payloadCount`` are
``SummaryPayloadCount``), unless another shape or a top-level schema has it. Equal shapes
with the same name are one type; a numeric suffix is the last resort, when every
candidate name is taken by another shape. A nested type's docstring names the first place
it was met.
Everything is decided in sorted order of the schema names and the schema's own field
order, so the names do not change between runs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from .naming import pascal, singular, snake, words
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

    def merge(self, other: Obj) -> Obj:
        if self.props is not None and other.props is not None:
            props = dict(self.props)
            for key, ty in other.props.items():
                props[key] = props[key].merge(ty) if key in props else ty
            return Obj(props=props)
        if self.ref is not None and self.ref == other.ref:
            return self
        if self.props is None and self.ref is None and other.props is None and other.ref is None:
            if self.values and other.values:
                return Obj(values=self.values.merge(other.values))
        return Obj()


Field = tuple[str, str, str]  # attribute, wire name, annotation
# The trailing words of a top-level name that mark a variant of one resource.
_VARIANTS = (("Post", "Response"), ("Post",), ("Patch",))


@dataclass(frozen=True)
class Place:
    """Where a nested object lives: its owner's names, the field, the steps inside it."""

    owner: str  # the owner's actual class name
    family: str  # the owner's name as the resource's family names it
    field: str | None  # the wire name of the owner's field; None: the owner itself
    steps: tuple[str, ...]  # "item" / "value" steps from the field to the object
    path: str  # ``device.attributes[]``, for the docstring
    siblings: frozenset[str] = frozenset()  # the owner's field names, in PascalCase

    def into(self, step: str) -> Place:
        mark = "[]" if step == "item" else "{}"
        steps = (*self.steps, step)
        return Place(self.owner, self.family, self.field, steps, self.path + mark, self.siblings)

    def candidates(self, owner: str) -> list[str]:
        """The names this place may take under ``owner``, best first."""
        first, rest = (self.steps[0], self.steps[1:]) if self.steps else (None, ())
        names: list[str] = []
        if first is None and self.field:
            # ``Object`` when the plain name is a top-level schema's (``flow.stats``).
            names = [owner + pascal(self.field), owner + pascal(self.field) + "Object"]
        elif first is None:
            names = [owner + "Object"]  # the object part of a top-level union
        elif first == "item" and self.field in (None, "items"):
            one = singular(owner)
            names = [one, owner + "Item"] if one else [owner + "Item"]
        elif first == "item":
            field = pascal(self.field or "")
            one = singular(field)
            # Not when a sibling field already has that name (``segment``, ``segments``).
            names = [owner + one] if one and one not in self.siblings else []
            names.append(owner + field + "Item")
        else:
            names = [owner + (pascal(self.field) if self.field else "") + "Value"]
        tail = "".join("Item" if s == "item" else "Value" for s in rest)
        return [n + tail for n in names]

    def fits(self, top: str) -> bool:
        """Whether the top-level schema ``top`` may stand for this place (same shape given).

        Its name must end with the field's (singular) name; an item of a collection with
        the singular of the collection's last word; the object part of a top-level union
        (``deviceStateOrStates``) with a name the union's name starts with.
        """
        top_words = words(top)
        if self.field is None and not self.steps:
            return words(self.owner)[: len(top_words)] == top_words
        if self.steps and self.steps[0] == "item" and self.field in (None, "items"):
            last = words(self.owner)[-1:]
            one = singular(last[0]) if last else None
            subject = [one] if one else ["Item"]
        else:
            field = pascal(self.field or "")
            subject = words(singular(field) or field) if self.steps else words(field)
        return top_words[-len(subject) :] == subject


class ModelBuilder:
    """Turns every schema into Struct classes and aliases, then renders one module."""

    def __init__(self, spec: ApiSpec) -> None:
        self.spec = spec
        self.top_names = {name: pascal(name) for name in spec.schemas}
        self.classes: list[tuple[str, str | None, list[Field], str]] = []
        self.aliases: dict[str, str] = {}
        self.tops: dict[str, Ty] = {}  # class name -> type, for the schemas built
        self.top_shapes: dict[Any, list[str]] = {}  # object shape -> top-level class names
        self.families: dict[str, set[Any]] = {}  # family name -> the shapes that take it
        self.reserved: dict[str, Any] = {}  # family names taken by one shape only
        self.alias: dict[str, str] = {}  # family name -> the name shared with others
        self.own_words: dict[str, int] = {}  # family name -> how many words the field gave
        self.created: dict[str, Any] = {}  # every class name given -> its shape
        self.suffixed: list[str] = []  # names that needed a numeric suffix

    # -- schema -> Ty -------------------------------------------------------------

    def ty(self, schema: JSON) -> Ty:
        if not isinstance(schema, dict):
            return Ty(any=True)
        if "$ref" in schema:
            target = resolve_ref(schema["$ref"])
            if target in self.spec.schemas and schema["$ref"].startswith("#/definitions/"):
                return Ty(obj=Obj(ref=target))
            return Ty(any=True)
        variants = [
            *schema.get("oneOf", []),
            *schema.get("anyOf", []),
        ]
        result: Ty | None = None
        if variants:
            for variant in variants:
                vt = self.ty(variant)
                result = vt if result is None else result.merge(vt)
        for part in schema.get("allOf", []):
            pt = self.ty(part)
            result = pt if result is None else result.merge(pt)
        declared = schema.get("type")
        if declared is not None:
            types = declared if isinstance(declared, list) else [declared]
            own: Ty | None = None
            for name in types:
                t = self._simple(name, schema)
                own = t if own is None else own.merge(t)
            if own is not None:
                # With both "type" and "oneOf", the variants refine the declared type.
                result = own if result is None or result.any else result
        elif result is None and ("properties" in schema or "patternProperties" in schema):
            result = self._simple("object", schema)
        return result if result is not None else Ty(any=True)

    def _simple(self, name: str, schema: JSON) -> Ty:
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
                for item in items:
                    t = self.ty(item)
                    item_ty = t if item_ty is None else item_ty.merge(t)
                return Ty(arr=item_ty or Ty(any=True))
            return Ty(arr=self.ty(items) if items is not None else Ty(any=True))
        if name == "object":
            props = schema.get("properties")
            if isinstance(props, dict) and props:
                return Ty(obj=Obj(props={k: self.ty(v) for k, v in props.items()}))
            value_schemas = [
                v for v in (schema.get("patternProperties") or {}).values() if isinstance(v, dict)
            ]
            extra = schema.get("additionalProperties")
            if isinstance(extra, dict):
                value_schemas.append(extra)
            values: Ty | None = None
            for vs in value_schemas:
                t = self.ty(vs)
                values = t if values is None else values.merge(t)
            return Ty(obj=Obj(values=values))
        return Ty(any=True)

    # -- names ---------------------------------------------------------------------

    def _reused_top(self, props: dict[str, Ty], place: Place) -> str | None:
        """The top-level schema that stands for this place, if one fits (see the module doc)."""
        for top in self.top_shapes.get(_shape_of_props(props), []):
            if place.fits(top):
                return top
        return None

    def _collect_families(self, ty: Ty, place: Place, *, top: bool = False) -> None:
        """Which shapes would take each family name, with the shared names in ``alias``."""
        if ty.arr is not None:
            self._collect_families(ty.arr, place.into("item"))
        obj = ty.obj
        if obj is None or obj.ref is not None:
            return
        if obj.props is None:
            if obj.values is not None:
                self._collect_families(obj.values, place.into("value"))
            return
        if top:
            name = place.family
        elif self._reused_top(obj.props, place) is not None:
            return
        else:
            family = self._first_free(place.candidates(place.family))
            self.families.setdefault(family, set()).add(_shape_of_props(obj.props))
            self.own_words.setdefault(family, len(words(family)) - len(words(place.family)))
            name = self.alias.get(family, family)
        siblings = frozenset(pascal(k) for k in obj.props)
        for key, sub in obj.props.items():
            where = f"{place.path}.{key}"
            self._collect_families(sub, Place(name, name, key, (), where, siblings))

    def _shared_names(self) -> dict[str, str]:
        """Family names of one shape that end alike share their common ending.

        Grouped by the field's words and the last word of the owner; the group's longest
        common ending is its name (``applicationSummary.payloadCount`` and
        ``orgSummary.payloadCount`` are both ``SummaryPayloadCount``; a bare field name such
        as ``LastUpdated`` would not say where it lives) unless another shape or a
        top-level schema has it.
        """
        tops = set(self.top_names.values())
        groups: dict[tuple[Any, tuple[str, ...]], list[str]] = {}
        for family, shapes in self.families.items():
            all_words, size = words(family), self.own_words[family] + 1
            # ``Item`` and ``Value`` only say how the owner holds it: keep one more word.
            while size < len(all_words) and all_words[-size] in ("Item", "Value", "Object"):
                size += 1
            ending = all_words[-size:]
            if len(shapes) == 1 and len(ending) > self.own_words[family]:
                groups.setdefault((next(iter(shapes)), tuple(ending)), []).append(family)
        proposed: dict[str, str] = {}
        claims: dict[str, set[Any]] = {n: set(s) for n, s in self.families.items()}
        for (shape, _), members in groups.items():
            if len(members) < 2:
                continue
            common = _common_ending([words(m) for m in members])
            claims.setdefault(common, set()).add(shape)
            for member in members:
                proposed[member] = common
        return {
            member: common
            for member, common in sorted(proposed.items())
            if common not in tops and len(claims[common]) == 1
        }

    def _first_free(self, names: list[str]) -> str:
        """The first name that is not a top-level schema's (the last one if all are)."""
        tops = set(self.top_names.values())
        return next((n for n in names if n not in tops), names[-1])

    def _nested_name(self, props: dict[str, Ty], place: Place) -> tuple[str, str, bool]:
        """The class name for a nested object, its family name, and whether it is new."""
        shape = _shape_of_props(props)
        family = self._first_free(place.candidates(place.family))
        family = self.alias.get(family, family)
        options = [family] if self.reserved.get(family) == shape else []
        options += place.candidates(place.owner)
        tops = set(self.top_names.values())
        for name in options:
            holder = self.created.get(name, self.reserved.get(name))
            if name in tops or (holder is not None and holder != shape):
                continue
            if name in self.created:
                return name, family, False
            self.created[name] = shape
            return name, family, True
        base, n = options[-1], 2
        while self.created.get(f"{base}{n}", shape) != shape:
            n += 1
        name = f"{base}{n}"
        if name in self.created:
            return name, family, False
        self.created[name] = shape
        self.suffixed.append(name)
        return name, family, True

    # -- Ty -> annotation --------------------------------------------------------

    def annotation(self, ty: Ty, place: Place, *, nullable: bool) -> str:
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
            parts.append(self.object_annotation(ty.obj, place))
        if ty.arr is not None:
            item = self.annotation(ty.arr, place.into("item"), nullable=False)
            parts.append(f"list[{item}]")
        if "Any" in parts:
            return "Any"
        if (ty.null or nullable) and parts:
            parts.append("None")
        return " | ".join(parts) if parts else "None"

    def object_annotation(self, obj: Obj, place: Place) -> str:
        if obj.ref is not None:
            return self.top_names[obj.ref]
        if obj.props is not None:
            top = self._reused_top(obj.props, place)
            if top is not None:
                return top
            name, family, new = self._nested_name(obj.props, place)
            if new:
                fields = self.fields(obj.props, name, family, place.path)
                self.classes.append((name, f"``{place.path}``", fields, "Model"))
            return name
        if obj.values is None:
            return "dict[str, Any]"
        return f"dict[str, {self.annotation(obj.values, place.into('value'), nullable=False)}]"

    def fields(self, props: dict[str, Ty], owner: str, family: str, path: str) -> list[Field]:
        out: list[Field] = []
        used: set[str] = set()
        siblings = frozenset(pascal(k) for k in props)
        for json_name, ty in props.items():
            attr = snake(json_name)
            if attr in _SHADOWING:
                attr += "_"
            while attr in used:
                attr += "_"
            used.add(attr)
            place = Place(owner, family, json_name, (), f"{path}.{json_name}", siblings)
            out.append((attr, json_name, self.annotation(ty, place, nullable=True)))
        return out

    # -- whole module ------------------------------------------------------------

    def build(self, names: list[str]) -> None:
        """Build the given top-level schemas; nested objects are named as the module says."""
        for name in names:
            self.tops[self.top_names[name]] = self.ty(self.spec.schemas[name])
        # Top-level objects of one shape: the smallest schema (then the first name) is the
        # class, the others subclass it.
        order = sorted(names, key=lambda n: (len(repr(self.spec.schemas[n])), n))
        base_of: dict[str, str] = {}
        for name in order:
            cls, ty = self.top_names[name], self.tops[self.top_names[name]]
            if _is_struct(ty):
                assert ty.obj is not None and ty.obj.props is not None
                shape = _shape_of_props(ty.obj.props)
                self.top_shapes.setdefault(shape, []).append(cls)
                self.created.setdefault(cls, shape)
                if self.top_shapes[shape][0] != cls:
                    base_of[cls] = self.top_shapes[shape][0]
        for shapes in self.top_shapes.values():
            shapes.sort()
        # A shared name changes the family names below it: repeat until nothing changes.
        for _ in range(10):
            self.families, self.own_words = {}, {}
            for name in sorted(names):
                ty = self.tops[self.top_names[name]]
                self._collect_families(ty, self._top_place(name), top=_is_struct(ty))
            alias = self._shared_names()
            if alias == self.alias:
                break
            self.alias = alias
        else:
            raise RuntimeError("the shared names of nested models do not settle")
        for family, kinds in sorted(self.families.items()):
            if len(kinds) == 1:
                self.reserved.setdefault(self.alias.get(family, family), next(iter(kinds)))
        for name in order:
            cls = self.top_names[name]
            ty = self.tops[cls]
            doc = _doc(name, self.spec.schemas[name])
            place = self._top_place(name)
            if cls in base_of:
                self.classes.append((cls, doc, [], base_of[cls]))
            elif _is_struct(ty):
                assert ty.obj is not None and ty.obj.props is not None
                fields = self.fields(ty.obj.props, cls, place.family, name)
                self.classes.append((cls, doc, fields, "Model"))
            else:
                self.aliases[cls] = self.annotation(ty, place, nullable=False)

    def _top_place(self, name: str) -> Place:
        cls = self.top_names[name]
        family = cls
        for variant in _VARIANTS:
            head = words(cls)
            if len(head) > len(variant) and tuple(head[-len(variant) :]) == variant:
                family = "".join(head[: -len(variant)])
                break
        return Place(cls, family, None, (), name)

    def exported(self) -> list[str]:
        """Every class and alias, in sorted order: all of them are public."""
        return sorted({name for name, *_ in self.classes} | set(self.aliases))

    def aliases_in_order(self) -> list[tuple[str, str]]:
        """Each alias with its annotation, defined after the aliases it mentions."""
        return [(alias, self.aliases[alias]) for alias in _alias_order(self.aliases)]


def _common_ending(names: list[list[str]]) -> str:
    """The longest run of words every name ends with."""
    out: list[str] = []
    for column in zip(*(reversed(n) for n in names), strict=False):
        if len(set(column)) > 1:
            break
        out.insert(0, column[0])
    return "".join(out)


def _is_struct(ty: Ty) -> bool:
    return ty.obj is not None and ty.obj.props is not None and not _other_kinds(ty)


def _shape(ty: Ty) -> Any:
    """A hashable, name-free description of a type: equal shapes give equal keys."""
    if ty.any:
        return "any"
    obj: Any = None
    if ty.obj is not None:
        if ty.obj.ref is not None:
            obj = ("ref", ty.obj.ref)
        elif ty.obj.props is not None:
            obj = _shape_of_props(ty.obj.props)
        else:
            obj = ("map", None if ty.obj.values is None else _shape(ty.obj.values))
    arr = None if ty.arr is None else _shape(ty.arr)
    return (ty.null, ty.boolean, ty.integer, ty.number, ty.string, obj, arr)


def _shape_of_props(props: dict[str, Ty]) -> Any:
    return ("props", tuple((key, _shape(ty)) for key, ty in props.items()))


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
