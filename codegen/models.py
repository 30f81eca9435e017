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
        return Place(cls, family_of(cls), None, (), name)

    def exported(self) -> list[str]:
        """Every class and alias, in sorted order: all of them are public."""
        return sorted({name for name, *_ in self.classes} | set(self.aliases))

    def aliases_in_order(self) -> list[tuple[str, str]]:
        """Each alias with its annotation, defined after the aliases it mentions."""
        return [(alias, self.aliases[alias]) for alias in _alias_order(self.aliases)]


def family_of(cls: str) -> str:
    """A top-level name without a trailing ``Post``, ``Patch`` or ``PostResponse``."""
    head = words(cls)
    for variant in _VARIANTS:
        if len(head) > len(variant) and tuple(head[-len(variant) :]) == variant:
            return "".join(head[: -len(variant)])
    return cls


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


# -- modules ---------------------------------------------------------------------------

# How big a module may grow by merging or packing groups of models, in classes plus
# fields (about the lines of source). Fewer, larger modules make loading every model
# cheaper (a module costs about as much to load as a few classes); smaller ones load fewer
# unneeded models with the ones a call needs, and less source to compile where no bytecode
# is cached. At 150: about 60 modules, loading all of them costs 1.2x the instructions of
# one module of every model, and a call's models load with 32 KB of source (median).
MODULE_SIZE = 150


def references(builder: ModelBuilder) -> dict[str, set[str]]:
    """Each class and alias with the names of the others it uses (a subclass: its base)."""
    names = set(builder.exported())

    def used(annotation: str) -> set[str]:
        return set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", annotation)) & names

    out: dict[str, set[str]] = {}
    for name, _, fields, base in builder.classes:
        out[name] = ({base} & names).union(*(used(ann) for _, _, ann in fields)) - {name}
    for alias, annotation in builder.aliases.items():
        out[alias] = used(annotation) - {alias}
    return out


def module_layout(builder: ModelBuilder, size: int = MODULE_SIZE) -> dict[str, str]:
    """Which generated module holds each model: name -> module name.

    A module imports the modules whose models its own use, so loading a model loads its
    module and those, and the modules form no import cycle. Built in steps:

    - the variants of one resource (``device``, ``devicePost``, ``devicePatch``) and every
      nested type only they reach (the dominator tree of the references, rooted at the
      resources' families) are one group; a type several groups share is a group of its own;
    - groups that refer to each other (recursive models) merge, and so does a group only
      one other group uses (whatever loads that one loads it anyway);
    - groups that load the same modules are packed together (see ``_pack_levels``).

    Merging a single user and packing stop short of ``size`` classes plus fields a module
    (models on one cycle stay together whatever their size).
    """
    refs = references(builder)
    tops = set(builder.tops)
    families = {t: "family " + family_of(t) for t in tops}
    succ: dict[str, list[str]] = {n: sorted(r) for n, r in refs.items()}
    root = "root"
    succ[root] = sorted(set(families.values()))
    for fam in succ[root]:
        succ[fam] = sorted(t for t in tops if families[t] == fam)
    idom = _dominators(succ, root)

    def head(name: str) -> str:
        while idom[name] != root:
            name = idom[name]
        return name

    # What a model costs to load: about one class and one line of source a field.
    weight = {name: 1 for name in refs}
    weight.update((name, 1 + len(fields)) for name, _, fields, _ in builder.classes)
    group = {name: head(name) for name in refs}
    group = _merge_cycles(group, refs)
    group = _merge_single_users(group, refs, weight, size)
    return _pack_levels(group, refs, weight, size)


def _dominators(succ: dict[str, list[str]], root: str) -> dict[str, str]:
    """The immediate dominator of every node reachable from ``root`` (Cooper, Harvey,
    Kennedy: "A Simple, Fast Dominance Algorithm")."""
    post: list[str] = []
    seen = {root}
    stack = [(root, iter(succ[root]))]
    while stack:
        node, rest = stack[-1]
        for nxt in rest:
            if nxt not in seen:
                seen.add(nxt)
                stack.append((nxt, iter(succ[nxt])))
                break
        else:
            stack.pop()
            post.append(node)
    order = list(reversed(post))
    rank = {n: i for i, n in enumerate(order)}
    preds: dict[str, list[str]] = {n: [] for n in order}
    for n in order:
        for m in succ[n]:
            preds[m].append(n)
    idom = {root: root}

    def meet(a: str, b: str) -> str:
        while a != b:
            while rank[a] > rank[b]:
                a = idom[a]
            while rank[b] > rank[a]:
                b = idom[b]
        return a

    changed = True
    while changed:
        changed = False
        for n in order[1:]:
            done = [p for p in preds[n] if p in idom]
            new = done[0]
            for p in done[1:]:
                new = meet(p, new)
            if idom.get(n) != new:
                idom[n] = new
                changed = True
    return idom


def _group_edges(group: dict[str, str], refs: dict[str, set[str]]) -> dict[str, set[str]]:
    """Group -> the other groups its models use."""
    edges: dict[str, set[str]] = {g: set() for g in group.values()}
    for name, used in refs.items():
        edges[group[name]].update(group[u] for u in used if group[u] != group[name])
    return edges


def _merge_cycles(group: dict[str, str], refs: dict[str, set[str]]) -> dict[str, str]:
    """Groups on one cycle of references become one (the first name's)."""
    edges = _group_edges(group, refs)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    merged: dict[str, str] = {}

    def visit(v: str) -> None:  # Tarjan's strongly connected components
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(edges[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            for w in component:
                merged[w] = min(component)

    for g in sorted(edges):
        if g not in index:
            visit(g)
    return {name: merged[g] for name, g in group.items()}


def _merge_single_users(
    group: dict[str, str], refs: dict[str, set[str]], weight: dict[str, int], size: int
) -> dict[str, str]:
    """A group that one other group alone uses joins it (smallest first) while the two
    weigh ``size`` or less."""
    group = dict(group)
    while True:
        members: dict[str, list[str]] = {}
        for name, g in group.items():
            members.setdefault(g, []).append(name)
        users: dict[str, set[str]] = {g: set() for g in members}
        for g, used in _group_edges(group, refs).items():
            for u in used:
                users[u].add(g)
        total = {g: sum(weight[n] for n in names) for g, names in members.items()}
        for g in sorted(members, key=lambda g: (total[g], g)):
            if len(users[g]) == 1:
                (user,) = users[g]
                if total[user] + total[g] <= size:
                    for name in members[g]:
                        group[name] = user
                    break
        else:
            return group


def _pack_levels(
    group: dict[str, str], refs: dict[str, set[str]], weight: dict[str, int], size: int
) -> dict[str, str]:
    """Groups packed into modules weighing up to ``size``; each module is named after its
    first model.

    Only groups that load the same modules share one: groups that import nothing, ordered
    by the groups that use them (so a group's leaves tend to share a module), then groups
    one height up (the longest chain of imports below them) that import the same modules,
    and so on. Groups of one height never import each other, so no cycle can form.
    """
    edges = _group_edges(group, refs)
    users: dict[str, set[str]] = {g: set() for g in edges}
    for g, used in edges.items():
        for u in used:
            users[u].add(_shown(g))
    height: dict[str, int] = {}

    def measure(g: str) -> int:
        if g not in height:
            height[g] = 1 + max((measure(u) for u in edges[g]), default=-1)
        return height[g]

    members: dict[str, list[str]] = {}
    for name, g in sorted(group.items()):
        members.setdefault(g, []).append(name)
    module: dict[str, str] = {}
    for level in sorted({measure(g) for g in members}):
        buckets: dict[tuple[str, ...], list[str]] = {}
        for g in sorted((g for g in members if height[g] == level), key=_shown):
            loads = tuple(sorted({module[members[u][0]] for u in edges[g]}))
            buckets.setdefault(loads, []).append(g)
        for loads in sorted(buckets):
            bins: list[list[str]] = []  # of groups
            count = 0
            ordered = sorted(buckets[loads], key=_shown)
            if level == 0:  # leaves by who uses them (unused ones last)
                ordered.sort(key=lambda g: sorted(users[g]) or ["~"])
            for g in ordered:
                load = sum(weight[n] for n in members[g])
                if not bins or count + load > size:
                    bins.append([])
                    count = 0
                bins[-1].append(g)
                count += load
            for groups in bins:
                name = snake(min(n for g in groups for n in members[g]))
                if name in module.values():
                    raise RuntimeError(f"two modules of models would be named {name}")
                for g in groups:
                    for n in members[g]:
                        module[n] = name
    return module


def _shown(group: str) -> str:
    return group.removeprefix("family ")
