"""apiInfo.json -> one module per resource, each a class with one coroutine per action."""

from __future__ import annotations

import textwrap
from dataclasses import dataclass
from typing import Any

from .naming import pascal, snake
from .spec import ApiSpec, resolve_ref

JSON = Any

_ERRORS = {
    400: "BadRequestError",
    401: "AuthenticationError",
    403: "PermissionDeniedError",
    404: "NotFoundError",
    409: "ConflictError",
    422: "UnprocessableEntityError",
    429: "RateLimitError",
}

GLOBAL_ARGS = (
    "_actions: bool = False",
    "_links: bool = True",
    "_embedded: bool = True",
    "losantdomain: str | None = None",
)


@dataclass
class ParamInfo:
    spec: JSON
    attr: str
    annotation: str
    default: str | None  # Python source of the default; None = required
    kind: str


class ResourceWriter:
    """Renders resource modules; ``model_names`` maps schema names to model classes."""

    def __init__(self, spec: ApiSpec, model_names: dict[str, str], header: str) -> None:
        self.spec = spec
        self.model_names = model_names
        self.header = header

    # -- parameters --------------------------------------------------------------

    def _schema_type(self, ref: str) -> str:
        target = resolve_ref(ref)
        name = f"models.{self.model_names[target]}"
        top = self.spec.schemas[target].get("type")
        if top == "object":
            return f"{name} | Mapping[str, Any]"
        if top == "array":
            return f"{name} | Sequence[Any]"
        return "Any"

    def param(self, p: JSON) -> ParamInfo:
        where, declared = p["in"], p.get("type")
        default = p.get("default")
        hint = default if default is not None else p.get("example")
        if "schema" in p:
            annotation, kind = self._schema_type(p["schema"]["$ref"]), "object"
            if where == "body":
                kind = "json"
            elif where == "query" and declared != "object":
                # Only ``object``-typed filters (``query``) travel as JSON text; the
                # official clients flatten the others: ``tagFilter[0][key]=floor``.
                kind = "flatten"
        elif declared == "file":
            annotation, kind = "FileInput", "file"
        elif declared == "boolean":
            annotation, kind = "bool", "boolean"
        elif declared == "array":
            annotation, kind = "Sequence[str]", "array"
        elif declared == "object":
            annotation, kind = "Mapping[str, Any]", "object"
        elif p.get("enum"):
            values: list[Any] = list(p["enum"])
            if all(isinstance(v, str) and v.isdigit() for v in values):
                # Numeric enums arrive as strings; take the numbers too.
                values += [int(v) for v in values]
                if isinstance(default, int):
                    default = str(default)
            annotation = "Literal[" + ", ".join(repr(v) for v in values) + "]"
            kind = "string"
        elif isinstance(hint, bool):
            annotation, kind = "bool | str", "string"
        elif isinstance(hint, int):
            annotation, kind = "int | str", "string"
        elif isinstance(hint, float):
            annotation, kind = "float | str", "string"
        else:
            annotation, kind = "str", "string"
        if where == "path":
            annotation = "str"
        required = bool(p.get("required")) and default is None
        if required:
            src = None
        elif default is None:
            src = "None"
            if annotation != "Any":
                annotation += " | None"
        else:
            src = repr(default)
        return ParamInfo(p, snake(p["name"]), annotation, src, kind)

    # -- modules -----------------------------------------------------------------

    def module(self, resource: str) -> str:
        res = self.spec.api[resource]
        cls = pascal(resource)
        methods: list[str] = []
        constants: list[str] = []
        for action_name in sorted(res["actions"]):
            action = res["actions"][action_name]
            params = [*res.get("params", []), *action.get("params", [])]
            infos = [self.param(p) for p in params]
            const = "_" + snake(action_name).upper().rstrip("_")
            methods.append(self.method(resource, action_name, action, infos, const))
            constants.append(self.constant(resource, action_name, action, infos, const))
        doc = f"Actions of the ``{resource}`` resource (``{res['path']}``)."
        code = "\n\n".join(methods) + "\n\n\n" + "\n\n".join(constants)
        abc = [n for n in ("Mapping", "Sequence") if f"{n}[" in code]
        typing = [
            "TYPE_CHECKING",
            *(n for n in ("Any", "Literal") if f"{n}[" in code or f" {n}" in code),
        ]
        types = [n for n in ("FileInput", "TimeoutArg") if n in code]
        imports = ["from __future__ import annotations", ""]
        if abc:
            imports.append(f"from collections.abc import {', '.join(abc)}")
        imports += [f"from typing import {', '.join(typing)}", ""]
        imports += [
            "from ..._action import Action, Param",
            "from ..._resource import Resource",
            f"from ..._types import {', '.join(types)}",
            "",
            "if TYPE_CHECKING:",
            "    from ... import models",
        ]
        if "EventStream[" in code:
            imports.append("    from ...sse import EventStream")
        body = "\n".join(imports) + "\n\n\n" + f"class {cls}(Resource):\n"
        body += _short_doc(doc, 4) + "\n\n" + code
        return f'{self.header}\n"""The ``{resource}`` resource."""\n\n{body}\n'

    def _returns(self, action: JSON) -> tuple[str, dict[int, str | None]]:
        statuses: dict[int, str | None] = {}
        for code, resp in sorted(action["responses"].items()):
            if code.startswith("2"):
                ref = (resp.get("schema") or {}).get("$ref")
                statuses[int(code)] = self.model_names[resolve_ref(ref)] if ref else None
        names = sorted({n for n in statuses.values() if n})
        ann = " | ".join(f"models.{n}" for n in names) or "None"
        if names and None in statuses.values():
            ann += " | None"
        return ann, statuses

    def method(
        self, resource: str, name: str, action: JSON, infos: list[ParamInfo], const: str
    ) -> str:
        stream = bool(action.get("sseStream"))
        required = [i for i in infos if i.default is None]
        optional = [i for i in infos if i.default is not None]
        args = ["self", "*"]
        args += [f"{i.attr}: {i.annotation}" for i in required]
        args += [f"{i.attr}: {i.annotation} = {i.default}" for i in optional]
        # Streams take no _actions/_links/_embedded (the official clients send none),
        # but a white-label domain needs its losantdomain header on streams too.
        args += GLOBAL_ARGS if not stream else GLOBAL_ARGS[-1:]
        args.append("timeout: TimeoutArg = None")
        if stream:
            info = next(iter(action["responses"]["200"]["sseEvents"].values()))
            model = self.model_names[resolve_ref(info["schema"]["$ref"])]
            ret = f"EventStream[models.{model}]"
            head = f"    def {snake(name)}(\n"
            call = f"        return self._stream({const}, locals())"
        else:
            ret = self._returns(action)[0]
            head = f"    async def {snake(name)}(\n"
            call = f"        return await self._call({const}, locals())"
        sig = head + "".join(f"        {a},\n" for a in args) + f"    ) -> {ret}:\n"
        return sig + self.docstring(resource, name, action, infos, stream) + call

    def docstring(
        self, resource: str, name: str, action: JSON, infos: list[ParamInfo], stream: bool
    ) -> str:
        lines = [_clean(action.get("summary") or f"{resource}.{name}").rstrip(".") + "."]
        if action.get("description"):
            lines += ["", *textwrap.wrap(_clean(action["description"]), 80)]
        method, path = action["method"], self.spec.api[resource]["path"] + action.get("path", "")
        lines += ["", f"``{method} {path}``"]
        if action.get("auth"):
            lines += ["", "Scopes: " + ", ".join(action["auth"]) + " (or a broader scope)."]
        if infos:
            lines += ["", "Args:"]
            for i in infos:
                text = _clean(i.spec.get("description", ""))
                if i.spec.get("default") is not None:
                    text += f" Default: {i.spec['default']!r}."
                lines += _item(f"{i.attr}: {text}")
        if not stream:
            lines += ["    (and the global _actions, _links, _embedded, losantdomain, timeout)"]
        else:
            lines += ["    (and losantdomain, timeout)"]
        ok = [(c, r) for c, r in sorted(action["responses"].items()) if c.startswith("2")]
        lines += ["", "Yields:" if stream else "Returns:"]
        for code, resp in ok:
            if stream:
                for event, info in resp["sseEvents"].items():
                    model = self.model_names[resolve_ref(info["schema"]["$ref"])]
                    lines += _item(f"``{event}`` events as {model}: {_clean(info['description'])}")
            else:
                ref = (resp.get("schema") or {}).get("$ref")
                model = self.model_names[resolve_ref(ref)] if ref else "None"
                lines += _item(f"{code} {model}: {_clean(resp['description'])}")
        errors = [(c, r) for c, r in sorted(action["responses"].items()) if not c.startswith("2")]
        if errors:
            lines += ["", "Raises:"]
            for code, resp in errors:
                exc = _ERRORS.get(int(code), "APIError")
                lines += _item(f"{exc}: {code}, {_clean(resp['description'])}")
        # 100 columns less the indent, and less the opening quotes on the first line.
        fitted = [part for n, ln in enumerate(lines) for part in _fit(ln, 89 if n == 0 else 92)]
        body = "\n".join(f"        {ln}" if ln else "" for ln in fitted)
        return f'        """{body.lstrip()}\n        """\n'

    def constant(
        self, resource: str, name: str, action: JSON, infos: list[ParamInfo], const: str
    ) -> str:
        path = self.spec.api[resource]["path"] + action.get("path", "")
        params = []
        for i in infos:
            fields = [i.spec["name"], i.attr, i.spec["in"]]
            pattern = i.spec.get("pattern") if i.spec["in"] in ("path", "query") else None
            if i.kind != "string" or pattern:
                fields.append(i.kind)
            if pattern:
                fields.append(pattern)
            params.append("        Param(" + ", ".join(repr(f) for f in fields) + "),\n")
        params_src = "(\n" + "".join(params) + "    )" if params else "()"
        if action.get("sseStream"):
            events = {
                ev: self.model_names[resolve_ref(info["schema"]["$ref"])]
                for ev, info in action["responses"]["200"]["sseEvents"].items()
            }
            ann = f"Action[models.{next(iter(events.values()))}]"
            tail = f"    {{200: None}},\n    {events!r},\n"
        else:
            ann = f"Action[{self._returns(action)[0]}]"
            tail = f"    {self._returns(action)[1]!r},\n"
        return (
            f"{const}: {ann} = Action(\n"
            f"    {resource!r},\n    {name!r},\n    {action['method']!r},\n    {path!r},\n"
            f"    {params_src},\n{tail})"
        )

    def client_mixin(self) -> str:
        lines = [
            self.header,
            '"""Typed, lazily loaded accessors for every resource of the API."""',
            "",
            "from __future__ import annotations",
            "",
            "from typing import TYPE_CHECKING, Any, cast",
            "",
            "if TYPE_CHECKING:",
        ]
        for resource in sorted(self.spec.api):
            lines.append(f"    from .resources.{snake(resource)} import {pascal(resource)}")
        lines += [
            "",
            "",
            "class Resources:",
            '    """One attribute per API resource; each loads its module on first use."""',
            "",
            "    def _resource(self, module: str, cls: str) -> Any:",
            "        raise NotImplementedError",
        ]
        for resource in sorted(self.spec.api):
            attr, cls = snake(resource), pascal(resource)
            lines += [
                "",
                "    @property",
                f"    def {attr}(self) -> {cls}:",
                _short_doc(f"``{resource}``: ``{self.spec.api[resource]['path']}``.", 8),
                f'        return cast("{cls}", self._resource("{attr}", "{cls}"))',
            ]
        lines += [
            "",
            "",
            "RESOURCES = {",
            *(f'    "{snake(r)}": "{pascal(r)}",' for r in sorted(self.spec.api)),
            "}",
            "",
        ]
        return "\n".join(lines)


def _clean(text: str) -> str:
    return " ".join(str(text).split()).replace("\\", "\\\\").replace('"""', "'''")


def _item(text: str) -> list[str]:
    """One entry of an Args/Returns/Raises section, wrapped with a hanging indent."""
    return textwrap.wrap(text, 80, initial_indent="    ", subsequent_indent="        ")


def _short_doc(text: str, indent: int) -> str:
    """A docstring of one sentence, wrapped to fit the line length."""
    pad = " " * indent
    lines = textwrap.wrap(text, 94 - indent, break_long_words=False, break_on_hyphens=False)
    if len(lines) == 1:
        return f'{pad}"""{text}"""'
    return f'{pad}"""' + f"\n{pad}".join(lines) + f'\n{pad}"""'


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
