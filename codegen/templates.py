"""The source templates: one per generated module, one function per construct.

Each module template carries a fixed import list, everything its constructs may use;
``ruff check --fix`` drops the imports a module does not need and ``ruff format`` lays the
code out (see ``__main__.tidy``), so nothing here searches the code it produced.
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterable
from string import Template

from .actions import GLOBAL_ARGS, ActionView, ParamView, ResourceView
from .naming import camel

PACKAGE = Template('''\
$header
"""$doc"""
''')

META_MODULE = Template('''\
$header
"""What the generated code was generated from; the client and the docs read it here."""

API_VERSION = "$api_version"
"""The Losant API version the description was built for."""

ACCEPT_VERSION = "^$api_version"
"""The default ``Accept-Version`` header: this API version or a compatible later one."""

DESCRIPTION_SHA256 = "$sha256"
"""SHA-256 of the description files, as ``codegen.spec.description_sha256`` computes it."""

GENERATOR_VERSION = "$generator"
"""The version of the generator that wrote this package."""
''')

RESOURCE_MODULE = Template('''\
$header
"""The ``$resource`` resource."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal

from ..._action import Action, Param
from ..._resource import Resource
from ..._times import TimeArg
from ..._types import NOT_GIVEN, FileInput, NotGiven, TimeoutArg
from ...pagination import cursor_pages, items, numbered_pages

if TYPE_CHECKING:
    from ... import models
    from ..._transport import RawResponse
    from ...sse import EventStream


class $cls(Resource):
$doc

$methods


if TYPE_CHECKING:

    class ${cls}WithRawResponse:
$raw_doc

$raw_methods


$constants
''')

# Every keyword argument goes to the transport by name, in a dict the transport reads by
# the ``attr`` of each ``Param`` of the action (and the global arguments by theirs).
CALL = Template("""\
    async def $attr(
$args    ) -> $returns:
$doc
        return await self._call($const, $named)""")

STREAM = Template("""\
    def $attr(
$args    ) -> EventStream[$returns]:
$doc
        return self._stream($const, $named)""")

# The iterators hand the list call's own arguments, by name, to the page walk of
# ``losant_async.pagination``, which adds the page (or cursor) and page size it drives.
# The type of a call through ``client.with_raw_response``, for type checkers only: at
# run time that is the resource class itself, bound to a transport answering raw responses
# (streams are as they are; the page iterators are left out).
RAW_CALL = Template("""\
        async def $attr(
$args        ) -> RawResponse[$returns]: ...""")

RAW_STREAM = Template("""\
        def $attr(
$args        ) -> EventStream[$returns]: ...""")

ITERATE = Template("""\
    def $attr(
$args    ) -> AsyncIterator[$returns]:
$doc
        return $walk""")

ACTION = Template("""\
$const: Action[$returns] = Action(
    $resource,
    $name,
    $method,
    $path,
    $params,
$responses)""")

CLIENT_MODULE = Template('''\
$header
"""Typed, lazily loaded accessors for every resource of the API."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
$imports


class Resources:
    """One attribute per API resource; each loads its module on first use."""

    def _resource(self, module: str, cls: str) -> Any:
        raise NotImplementedError
$properties


class RawResourcesBase:
    """``client.with_raw_response``: one attribute per API resource, whose calls answer a
    ``RawResponse``."""

    def _resource(self, module: str, cls: str) -> Any:
        raise NotImplementedError
$raw_properties


RESOURCES = {
$table}
''')

RAW_PROPERTY = Template("""
    @property
    def $attr(self) -> ${cls}WithRawResponse:
$doc
        return cast("${cls}WithRawResponse", self._resource("$attr", "$cls"))""")

PROPERTY = Template("""
    @property
    def $attr(self) -> $cls:
$doc
        return cast("$cls", self._resource("$attr", "$cls"))""")

MODELS_MODULE = Template('''\
$header
"""msgspec Structs for every schema of the Losant API."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from msgspec import field

from .._models import Model

__all__ = [
$public]
$classes

$aliases
''')


def package(header: str, doc: str) -> str:
    return PACKAGE.substitute(header=header, doc=doc)


def meta_module(header: str, api_version: str, sha256: str, generator: str) -> str:
    return META_MODULE.substitute(
        header=header, api_version=api_version, sha256=sha256, generator=generator
    )


# -- resources -------------------------------------------------------------------------


def resource_module(header: str, res: ResourceView) -> str:
    return RESOURCE_MODULE.substitute(
        header=header,
        resource=res.name,
        cls=res.cls,
        doc=short_doc(f"Actions of the ``{res.name}`` resource (``{res.path}``).", 4),
        methods="\n\n".join(method(a) for a in res.actions),
        raw_doc=short_doc(
            f"The calls of ``{res.name}`` as ``client.with_raw_response`` makes them.", 8
        ),
        raw_methods="\n\n".join(
            (RAW_STREAM if a.stream else RAW_CALL).substitute(
                attr=a.attr,
                args=_arguments(a.params, [], GLOBAL_ARGS[-1:] if a.stream else GLOBAL_ARGS),
                returns=a.returns,
            )
            for a in res.actions
        ),
        constants="\n\n".join(action_constant(a) for a in res.actions),
    )


def method(action: ActionView) -> str:
    # Streams take no _actions/_links/_embedded (the official clients send none), but a
    # white-label domain needs its losantdomain header on streams too.
    extra = GLOBAL_ARGS[-1:] if action.stream else GLOBAL_ARGS
    template = STREAM if action.stream else CALL
    source = template.substitute(
        attr=action.attr,
        args=_arguments(action.params, [], extra),
        returns=action.returns,
        doc=long_doc(action.doc, 8),
        const=action.const,
        named=_named([p.attr for p in action.params] + [name for name, _, _ in extra]),
    )
    return source if action.paging is None else "\n\n".join([source, *iterators(action)])


def iterators(action: ActionView) -> list[str]:
    """The item and page iterators of a list action."""
    paging = action.paging
    assert paging is not None
    forward = [p.attr for p in paging.params] + [name for name, _, _ in GLOBAL_ARGS]
    call = _named(forward)
    size = paging.size_attr  # per_page | limit
    options = [f"{size}: int = {paging.size}"]
    walk = f"{size}={size}"
    if paging.style == "page":
        options.append("concurrency: int = 4")
        walk = f"numbered_pages(self.{action.attr}, {call}, {walk}, concurrency=concurrency)"
    else:
        walk = f"cursor_pages(self.{action.attr}, {call}, {walk})"
    args = _arguments(paging.params, options, GLOBAL_ARGS)
    return [
        ITERATE.substitute(
            attr=paging.items_attr,
            args=args,
            returns=f"models.{paging.item}",
            doc=long_doc(paging.items_doc, 8),
            walk=f"items({walk})",
        ),
        ITERATE.substitute(
            attr=paging.pages_attr,
            args=args,
            returns=f"models.{paging.page}",
            doc=long_doc(paging.pages_doc, 8),
            walk=walk,
        ),
    ]


def _named(attrs: list[str]) -> str:
    """A dict literal of the named arguments (and ``timeout``), in parameter order."""
    return "{" + ", ".join(f'"{a}": {a}' for a in [*attrs, "timeout"]) + "}"


def _arguments(
    params: list[ParamView], options: list[str], extra: tuple[tuple[str, str, str], ...]
) -> str:
    """The keyword-only parameters of a method: required, optional, its own, the global."""
    args = ["self", "*"]
    args += [f"{p.attr}: {p.annotation}" for p in params if p.default is None]
    args += [f"{p.attr}: {p.annotation} = {p.default}" for p in params if p.default is not None]
    args += options
    args += [f"{name}: {ann} = {default}" for name, ann, default in extra]
    args.append("timeout: TimeoutArg | NotGiven = NOT_GIVEN")
    return "".join(f"        {a},\n" for a in args)


def action_constant(action: ActionView) -> str:
    params = []
    for p in action.params:
        fields = [p.spec["name"], p.attr, p.spec["in"]]
        if p.kind != "string" or p.pattern:
            fields.append(p.kind)
        if p.pattern:
            fields.append(p.pattern)
        params.append("        Param(" + ", ".join(repr(f) for f in fields) + "),\n")
    responses = f"    {action.statuses!r},\n"
    if action.events is not None:
        responses += f"    {action.events!r},\n"
    return ACTION.substitute(
        const=action.const,
        returns=action.returns,
        resource=repr(action.resource),
        name=repr(action.name),
        method=repr(action.method),
        path=repr(action.path),
        params="(\n" + "".join(params) + "    )" if params else "()",
        responses=responses,
    )


def client_module(header: str, resources: list[ResourceView]) -> str:
    return CLIENT_MODULE.substitute(
        header=header,
        imports="\n".join(
            f"    from .resources.{r.attr} import {r.cls}, {r.cls}WithRawResponse"
            for r in resources
        ),
        raw_properties="\n".join(
            RAW_PROPERTY.substitute(
                attr=r.attr, cls=r.cls, doc=short_doc(f"``{r.name}``, raw responses.", 8)
            )
            for r in resources
        ),
        properties="\n".join(
            PROPERTY.substitute(
                attr=r.attr, cls=r.cls, doc=short_doc(f"``{r.name}``: ``{r.path}``.", 8)
            )
            for r in resources
        ),
        table="".join(f'    "{r.attr}": "{r.cls}",\n' for r in resources),
    )


# -- models ----------------------------------------------------------------------------

Field = tuple[str, str, str]  # attribute, wire name, annotation


def models_module(
    header: str,
    public: Iterable[str],
    classes: Iterable[tuple[str, str | None, list[Field], str]],
    aliases: Iterable[tuple[str, str]],
) -> str:
    return MODELS_MODULE.substitute(
        header=header,
        public="".join(f'    "{n}",\n' for n in public),
        classes="".join(struct(*c) for c in classes),
        aliases="".join(f"{name} = {annotation}\n" for name, annotation in aliases),
    )


def struct(name: str, doc: str | None, fields: list[Field], base: str) -> str:
    lines = ["", "", f"class {name}({base}):"]
    if doc:
        lines.append(f"    {_one_line_doc(doc)}")
    elif not fields:
        lines.append("    pass")
    for attr, wire, annotation in fields:
        # The base renames fields to camelCase: spell out every other wire name
        # (``client_id`` must stay ``client_id``).
        if attr.endswith("_") or camel(attr) != wire:
            default = f"field(default=None, name={wire!r})"
        else:
            default = "None"
        lines.append(f"    {attr}: {annotation} = {default}")
    return "\n".join(lines) + "\n"


# -- docstrings ------------------------------------------------------------------------


def _one_line_doc(text: str) -> str:
    """A docstring cut to one line of at most 100 columns (a model's: name and title)."""
    text = " ".join(text.split()).replace("\\", "\\\\").replace('"""', "'''")
    if len(text) > 90:
        text = text[:87].rsplit(" ", 1)[0] + " ..."
    return f'"""{text}"""'


def short_doc(text: str, indent: int) -> str:
    """A docstring of one sentence, wrapped to fit the line length."""
    pad = " " * indent
    lines = textwrap.wrap(text, 94 - indent, break_long_words=False, break_on_hyphens=False)
    if len(lines) == 1:
        return f'{pad}"""{text}"""'
    return f'{pad}"""' + f"\n{pad}".join(lines) + f'\n{pad}"""'


def long_doc(lines: list[str], indent: int) -> str:
    """A docstring of several paragraphs, each line fitted to the line length."""
    pad = " " * indent
    # 100 columns less the indent, and less the opening quotes on the first line.
    width = 100 - indent
    fitted = [part for n, ln in enumerate(lines) for part in _fit(ln, width - 3 * (n == 0))]
    body = "\n".join(f"{pad}{ln}" if ln else "" for ln in fitted)
    return f'{pad}"""{body.lstrip()}\n{pad}"""'


def _fit(line: str, width: int) -> list[str]:
    """``line`` as is if it fits in ``width``, else wrapped (with a hanging indent if indented)."""
    if len(line) <= width:
        return [line]
    lead = line[: len(line) - len(line.lstrip())]
    return textwrap.wrap(
        line.strip(),
        width,
        initial_indent=lead,
        subsequent_indent=lead + "    " if lead else "",
        break_long_words=False,
        break_on_hyphens=False,
    )
