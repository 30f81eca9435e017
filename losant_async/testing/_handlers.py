"""Actions answered from the stored state: the instance, CRUD of orgs, sandboxes,
applications and devices, their usage numbers, and both pagination styles."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any, TypeVar

from ._generic import GenericResponder
from ._query import Getter, compile_query, glob_regex, tag_filter
from ._routes import Call, invalid, not_found
from ._state import (
    DAY,
    DEVICE_TYPES,
    HOUR,
    NON_BILLABLE,
    NOTEBOOK_FIELDS,
    PAYLOAD_SIZES,
    PAYLOAD_SOURCES,
    PAYLOAD_TYPES,
    W_CREATED,
    W_DELETED,
    W_NOTEBOOK,
    App,
    Device,
    Instance,
    Org,
    Sandbox,
    State,
    _digest,
    iso,
)

JSON = Any
R = TypeVar("R")
Scope = tuple[str, str, list[str]]  # (kind, key, application IDs) usage is summed over
Window = tuple[int, int, int]  # (start, end, now) in ms
Handler = Callable[[Call], tuple[int, JSON]]

_SUCCESS = {"success": True}
_MEMBER_FIELDS = (
    "email",
    "firstName",
    "lastName",
    "avatarUrl",
    "twoFactorAuthEnabled",
    "ssoLinked",
)


def _int(value: JSON, default: int) -> int:
    try:
        return int(str(value))
    except (TypeError, ValueError):
        try:
            return int(float(str(value)))
        except (TypeError, ValueError):
            return default


def _flag(value: JSON) -> bool:
    return value is True or (isinstance(value, str) and value.lower() in ("true", "1", "yes"))


def _names(value: JSON) -> set[str]:
    """A comma-separated list param as a set."""
    return {n.strip() for n in str(value).split(",") if n.strip()} if value else set()


def _sort_key(value: JSON) -> tuple[int, JSON]:
    if value is None:
        return (0, 0)
    if isinstance(value, bool | int | float):
        return (1, value)
    return (2, str(value))


class Enterprise:
    """The stateful actions, on top of :class:`GenericResponder` for the rest."""

    def __init__(self, state: State, generic: GenericResponder) -> None:
        self.state = state
        self.generic = generic
        self.schemas = generic.schemas
        self._templates: dict[str, dict[str, JSON]] = {}
        usage = {
            "payloadCounts": self._payload_counts,
            "payloadCountsBreakdown": self._payload_breakdown,
            "deviceCounts": self._device_counts,
            "notebookMinuteCounts": self._notebook_counts,
        }
        self.handlers: dict[str, Handler] = {
            "instances.get": self._instances_list,
            "instance.get": self._instance_get,
            "instance.patch": self._instance_patch,
            "instanceMembers.get": self._members_list,
            "me.get": self._me,
            "me.patch": self._me,
            "instanceOrgs.get": self._orgs_list,
            "orgs.get": self._orgs_list,
            "instanceOrgs.post": self._org_create,
            "orgs.post": self._org_create,
            "instanceOrg.get": self._org_get,
            "org.get": self._org_get,
            "instanceOrg.patch": self._org_patch,
            "org.patch": self._org_patch,
            "instanceOrg.delete": self._org_delete,
            "org.delete": self._org_delete,
            "instanceSandboxes.get": self._sandboxes_list,
            "instanceSandbox.get": self._sandbox_get,
            "instanceSandbox.delete": self._sandbox_delete,
            "instanceSandbox.undelete": self._sandbox_undelete,
            "applications.get": self._apps_list,
            "applications.periodSummaries": self._period_summaries,
            "applications.post": self._app_create,
            "application.get": self._app_get,
            "application.patch": self._app_patch,
            "application.delete": self._app_delete,
            "devices.get": self._devices_list,
            "devices.deviceNames": self._device_names,
            "devices.tagKeys": self._tag_keys,
            "devices.tagValues": self._tag_values,
            "devices.attributeNames": self._attribute_names,
            "devices.post": self._device_create,
            "device.get": self._device_get,
            "device.patch": self._device_patch,
            "device.delete": self._device_delete,
            "device.payloadCounts": self._device_payload_counts,
            "device.getState": self._get_state,
            "device.getCompositeState": self._get_composite_state,
            "devices.getCompositeState": self._devices_composite_state,
            "device.payloadCountsBreakdown": self._device_payload_breakdown,
            "instance.historicalSummaries": self._historical_summaries,
        }
        for resource in ("instance", "instanceOrg", "org", "instanceSandbox", "application", "me"):
            for name, handler in usage.items():
                self.handlers[f"{resource}.{name}"] = handler

    # -- lookups ---------------------------------------------------------------------------

    def check_ids(self, call: Call) -> None:
        """404 for IDs of stored kinds that are not stored."""
        params = call.path_params
        state = self.state
        if "instanceId" in params and params["instanceId"] != state.instance_id:
            raise not_found("Instance was not found")
        if "orgId" in params and params["orgId"] not in state.orgs:
            raise not_found("Organization was not found")
        if "instanceSandboxId" in params:
            box = state.sandboxes.get(params["instanceSandboxId"])
            if box is None or (box.deleted and call.action.name != "undelete"):
                raise not_found("Sandbox was not found")
        if "applicationId" in params:
            app = state.apps.get(params["applicationId"])
            if app is None:
                raise not_found("Application was not found")
            if "deviceId" in params and params["deviceId"] not in state.devices(app):
                raise not_found("Device was not found")

    def handle(self, call: Call) -> tuple[int, JSON] | None:
        """The answer, or None when the action is not a stateful one."""
        handler = self.handlers.get(call.action.qualname)
        return handler(call) if handler is not None else None

    def _org(self, call: Call) -> Org:
        return self.state.orgs[call.path_params["orgId"]]

    def _app(self, call: Call) -> App:
        return self.state.apps[call.path_params["applicationId"]]

    def _device(self, call: Call) -> Device:
        return self.state.devices(self._app(call))[call.path_params["deviceId"]]

    def _sandbox(self, call: Call) -> Sandbox:
        return self.state.sandboxes[call.path_params["instanceSandboxId"]]

    # -- rendering -------------------------------------------------------------------------

    def _schema_props(self, schema: JSON) -> dict[str, JSON]:
        node = self.schemas.resolve(schema)
        props = node.get("properties", {}) if isinstance(node, dict) else {}
        return props if isinstance(props, dict) else {}

    def _item_schema(self, collection: str) -> JSON:
        items = self._schema_props(self.schemas[collection]).get("items", {})
        node = self.schemas.resolve(items)
        return node.get("items", {}) if isinstance(node, dict) else {}

    def _template(self, key: str, schema: JSON, drop: Iterable[str] = ()) -> dict[str, JSON]:
        found = self._templates.get(key)
        if found is None:
            value = self.generic.generator.value(schema, self.generic.rng("template", key))
            found = value if isinstance(value, dict) else {}
            for name in drop:
                found.pop(name, None)
            self._templates[key] = found
        return found

    def _render(
        self,
        key: str,
        schema: JSON,
        core: dict[str, JSON],
        extra: dict[str, JSON],
        drop: Iterable[str] = (),
    ) -> dict[str, JSON]:
        out = dict(self._template(key, schema, drop))
        props = self._schema_props(schema)
        for name, value in core.items():
            self.generic.set_if_valid(props, out, name, value, prune=False)
        for name, value in extra.items():  # as stored from requests
            self.generic.set_if_valid(props, out, name, value)
        return out

    def _summary(self, schema: JSON, core: dict[str, JSON], scope: Scope, **counts: int) -> None:
        """``core["summary"]``, when the schema has one, describing stored objects: their
        ``counts``, this month's payloads of ``scope``, and 0 for every kind not stored."""
        summary = self._schema_props(schema).get("summary")
        if summary is None:
            return
        out: dict[str, JSON] = {}
        for name, sub in self._schema_props(summary).items():
            node = self.schemas.resolve(sub)
            kind = node.get("type") if isinstance(node, dict) else None
            if name == "payloadCount":
                out[name] = self.payload_counts_of(scope, self.this_month(), False)
            elif kind == "integer":
                out[name] = counts.get(name, 0)
            elif kind == "object":  # notebookStats, storageStats: nothing stored
                out[name] = {k: 0 for k in self._schema_props(node)}
        core["summary"] = out

    def render_instance(self, inst: Instance, schema_name: str, schema: JSON = None) -> JSON:
        schema = schema if schema is not None else self.schemas[schema_name]
        core: dict[str, JSON] = {
            "id": inst.id,
            "instanceId": inst.id,
            "name": inst.name,
            "creationDate": iso(inst.created),
            "lastUpdated": iso(inst.updated),
            "members": [{"userId": self.state.user_id, "role": "admin"}],
        }
        return self._render(schema_name, schema, core, inst.extra)

    def render_me(self) -> dict[str, JSON]:
        """The token's user: a member of every org and admin of the instance; owner of the
        applications made without an org."""
        state = self.state
        apps = [a for a in state.apps.values() if a.owner_id == state.user_id]
        core: dict[str, JSON] = {"id": state.user_id, "userId": state.user_id}
        counts = {"orgCount": len(state.orgs), "instanceCount": 1, "appCount": len(apps)}
        counts["deviceCount"] = sum(state.device_count(a) for a in apps)
        schema = self.schemas["me"]
        self._summary(schema, core, ("me", "", [a.id for a in apps]), **counts)
        drop = ("recentDashboards", "recentApplications", "recentOrganizations")
        return self._render("me", schema, core, state.user, drop)

    def render_org(self, org: Org, schema_name: str, schema: JSON = None) -> dict[str, JSON]:
        schema = schema if schema is not None else self.schemas[schema_name]
        apps = [self.state.apps[a] for a in org.app_ids if a in self.state.apps]
        core: dict[str, JSON] = {
            "id": org.id,
            "orgId": org.id,
            "name": org.name,
            "instanceId": self.state.instance_id,
            "creationDate": iso(org.created),
            "lastUpdated": iso(org.updated),
            "tags": [],
        }
        devices = sum(self.state.device_count(a) for a in apps)
        scope: Scope = ("org", org.id, [a.id for a in apps])
        counts = {"appCount": len(apps), "deviceCount": devices, "memberCount": 1}
        self._summary(schema, core, scope, **counts)
        return self._render(schema_name, schema, core, org.extra)

    def render_sandbox(self, box: Sandbox, schema_name: str, schema: JSON = None) -> JSON:
        schema = schema if schema is not None else self.schemas[schema_name]
        core: dict[str, JSON] = {
            "id": box.id,
            "instanceSandboxId": box.id,
            "instanceId": self.state.instance_id,
            "firstName": box.first_name,
            "lastName": box.last_name,
            "fullName": f"{box.first_name} {box.last_name}",
            "email": box.email,
            "creationDate": iso(box.created),
            "lastUpdated": iso(box.updated),
        }
        if box.deleted:
            core["dataDeletion"] = iso(box.updated + 30 * DAY)
        # Seeded sandbox users belong to no org.
        apps = [self.state.apps[a] for a in box.app_ids if a in self.state.apps]
        devices = sum(self.state.device_count(a) for a in apps)
        core["orgs"] = []
        scope: Scope = ("sandbox", box.id, [a.id for a in apps])
        self._summary(schema, core, scope, appCount=len(apps), deviceCount=devices)
        drop = ("dataDeletion", "permanentDeletion")
        return self._render(schema_name, schema, core, box.extra, drop)

    def render_app(self, app: App, schema_name: str, schema: JSON = None) -> dict[str, JSON]:
        schema = schema if schema is not None else self.schemas[schema_name]
        core: dict[str, JSON] = {
            "id": app.id,
            "applicationId": app.id,
            "name": app.name,
            "ownerId": app.owner_id,
            "ownerType": app.owner_type,
            "creationDate": iso(app.created),
            "lastUpdated": iso(app.updated),
        }
        org = self.state.orgs.get(app.org_id or "")
        if org is not None:
            core["organizationName"] = org.name
        scope: Scope = ("app", app.id, [app.id])
        self._summary(schema, core, scope, deviceCount=self.state.device_count(app))
        return self._render(schema_name, schema, core, app.extra)

    def render_device(self, dev: Device, schema_name: str, schema: JSON = None) -> JSON:
        schema = schema if schema is not None else self.schemas[schema_name]
        core: dict[str, JSON] = {
            "id": dev.id,
            "deviceId": dev.id,
            "applicationId": dev.app_id,
            "name": dev.name,
            "deviceClass": dev.device_class,
            "tags": dev.tags,
            "attributes": dev.attributes,
            "creationDate": iso(dev.created),
            "lastUpdated": iso(dev.updated),
        }
        drop = ("deletedAt", "parentId", "gatewayId", "ancestorIds")
        return self._render(schema_name, schema, core, dev.extra, drop)

    # -- pagination ------------------------------------------------------------------------

    def _paged(
        self,
        call: Call,
        records: list[R],
        fields: Callable[[R, str], JSON],
        render: Callable[[R], JSON],
        extra_meta: dict[str, JSON] | None = None,
    ) -> JSON:
        """``page``/``perPage`` paging, sorting and filters."""
        records, meta = self._sorted_filtered(call, records, fields, render)
        page = max(0, _int(call.q("page", 0), 0))
        per_page = max(1, _int(call.q("perPage", 100), 100))
        window = records[page * per_page : (page + 1) * per_page]
        items = [render(r) for r in window]
        out: dict[str, JSON] = {
            "items": items,
            "count": len(items),
            "totalCount": len(records),
            "perPage": per_page,
            "page": page,
            **meta,
        }
        out.update(extra_meta or {})
        return out

    def _cursored(
        self,
        call: Call,
        records: list[R],
        fields: Callable[[R, str], JSON],
        render: Callable[[R], JSON],
    ) -> JSON:
        """``startingAfterId``/``endingBeforeId``/``limit`` paging."""
        records, meta = self._sorted_filtered(call, records, fields, render)
        limit = max(1, _int(call.q("limit", 100), 100))
        ids = [fields(r, "id") for r in records]
        after = call.q("startingAfterId")
        before = call.q("endingBeforeId")
        if after:
            if after not in ids:
                window, more = [], False
            else:
                i = ids.index(after) + 1
                window, more = records[i : i + limit], i + limit < len(records)
            meta["startingAfterId"] = after
        elif before:
            if before not in ids:
                window, more = [], False
            else:
                i = ids.index(before)
                first = max(0, i - limit)
                window, more = records[first:i], first > 0
            meta["endingBeforeId"] = before
        else:
            window, more = records[:limit], limit < len(records)
        items = [render(r) for r in window]
        return {"items": items, "count": len(items), "hasMore": more, "limit": limit, **meta}

    def _sorted_filtered(
        self,
        call: Call,
        records: list[R],
        fields: Callable[[R, str], JSON],
        render: Callable[[R], JSON],
    ) -> tuple[list[R], dict[str, JSON]]:
        """Sorted by ``sortField``/``sortDirection``; filtered by ``query`` when given, else
        by ``filterField``/``filter``."""
        sort_field = str(call.q("sortField") or "id")
        direction = str(call.q("sortDirection") or "asc")
        meta: dict[str, JSON] = {"sortField": sort_field, "sortDirection": direction}
        if call.q("query") is not None:
            records = self._queried(call, records, fields, render)
        else:
            filter_field = call.q("filterField")
            pattern = call.q("filter")
            if filter_field:
                meta["filterField"] = filter_field
            if pattern is not None:
                meta["filter"] = pattern
            if filter_field and pattern:
                rx = glob_regex(str(pattern))
                records = [r for r in records if rx.fullmatch(str(fields(r, filter_field) or ""))]
        records = sorted(
            records,
            key=lambda r: (_sort_key(fields(r, sort_field)), fields(r, "id")),
            reverse=direction.lower() == "desc",
        )
        return records, meta

    @staticmethod
    def _queried(
        call: Call,
        records: list[R],
        fields: Callable[[R, str], JSON],
        render: Callable[[R], JSON],
    ) -> list[R]:
        """The records matching the advanced ``query``: stored fields are read directly,
        any other field is read from the record as answered."""
        match = compile_query(call.q("query"))

        def getter(record: R) -> Getter:
            rendered: list[JSON] = []

            def get(name: str) -> JSON:
                value = fields(record, name)
                if value is None:
                    if not rendered:
                        rendered.append(render(record))
                    answer = rendered[0]
                    value = answer.get(name) if isinstance(answer, dict) else None
                return value

            return get

        return [r for r in records if match(getter(r))]

    # -- the instance and its user ---------------------------------------------------------

    @staticmethod
    def _instance_field(inst: Instance, name: str) -> JSON:
        plain = {
            "id": inst.id,
            "name": inst.name,
            "creationDate": inst.created,
            "lastUpdated": inst.updated,
        }
        return plain[name] if name in plain else inst.extra.get(name)

    def _instances_list(self, call: Call) -> tuple[int, JSON]:
        item = self._item_schema("instances")
        body = self._paged(
            call,
            [self.state.instance],
            self._instance_field,
            lambda i: self.render_instance(i, "instances.item", item),
        )
        return 200, body

    def _instance_get(self, call: Call) -> tuple[int, JSON]:
        return 200, self.render_instance(self.state.instance, "instance")

    def _instance_patch(self, call: Call) -> tuple[int, JSON]:
        inst = self.state.instance
        inst.extra.update(call.body if isinstance(call.body, dict) else {})
        inst.updated = max(self.state.clock(), inst.updated + 1)
        return 200, self.render_instance(inst, "instance")

    def _members_list(self, call: Call) -> tuple[int, JSON]:
        """The token's user, the one admin."""
        me = self.render_me()
        member: dict[str, JSON] = {k: me[k] for k in _MEMBER_FIELDS if k in me}
        member |= {"instanceId": self.state.instance_id, "userId": self.state.user_id}
        member["role"] = "admin"
        item = self._item_schema("instanceMembers")
        members, meta = self._sorted_filtered(
            call,
            [member],
            lambda m, name: m.get(name),
            lambda m: self._render("instanceMembers.item", item, m, {}),
        )
        items = [self._render("instanceMembers.item", item, m, {}) for m in members]
        meta["instanceId"] = self.state.instance_id
        return 200, {"items": items, "count": len(items), **meta}

    def _me(self, call: Call) -> tuple[int, JSON]:
        if call.action.name == "patch" and isinstance(call.body, dict):
            secret = ("password", "currentCredentials")
            self.state.user.update({k: v for k, v in call.body.items() if k not in secret})
        return 200, self.render_me()

    # -- orgs ------------------------------------------------------------------------------

    @staticmethod
    def _org_field(org: Org, name: str) -> JSON:
        if name == "creationDate":
            return org.created
        if name == "lastUpdated":
            return org.updated
        if name in ("id", "name"):
            return org.id if name == "id" else org.name
        if name == "tags":
            return org.extra.get("tags") or []
        return org.extra.get(name)

    def _orgs_list(self, call: Call) -> tuple[int, JSON]:
        collection = call.action.success_schema or "instanceOrgs"
        item = self._item_schema(collection)
        meta: dict[str, JSON] = {}
        if "instanceId" in call.path_params:
            meta["instanceId"] = self.state.instance_id
        body = self._paged(
            call,
            list(self.state.orgs.values()),
            self._org_field,
            lambda o: self.render_org(o, f"{collection}.item", item),
            meta,
        )
        return 200, body

    def _org_create(self, call: Call) -> tuple[int, JSON]:
        body = call.body if isinstance(call.body, dict) else {}
        now = self.state.clock()
        org = Org(self.state.new_id("org"), str(body.get("name") or "New Org"), now, now)
        org.extra = {k: v for k, v in body.items() if k != "name"}
        self.state.orgs[org.id] = org
        self.state.touch()
        return call.action.success_status, self.render_org(org, "org")

    def _org_get(self, call: Call) -> tuple[int, JSON]:
        return 200, self.render_org(self._org(call), call.action.success_schema or "org")

    def _org_patch(self, call: Call) -> tuple[int, JSON]:
        org = self._org(call)
        body = call.body if isinstance(call.body, dict) else {}
        for key, value in body.items():
            if key == "name":
                org.name = str(value)
            else:
                org.extra[key] = value
        org.updated = max(self.state.clock(), org.updated + 1)
        return 200, self.render_org(org, call.action.success_schema or "org")

    def _org_delete(self, call: Call) -> tuple[int, JSON]:
        self.state.remove_org(self._org(call).id)
        return 200, dict(_SUCCESS)

    # -- sandboxes -------------------------------------------------------------------------

    @staticmethod
    def _sandbox_field(box: Sandbox, name: str) -> JSON:
        plain = {
            "id": box.id,
            "firstName": box.first_name,
            "lastName": box.last_name,
            "email": box.email,
            "creationDate": box.created,
            "lastUpdated": box.updated,
        }
        return plain[name] if name in plain else box.extra.get(name)

    def _sandboxes_list(self, call: Call) -> tuple[int, JSON]:
        item = self._item_schema("instanceSandboxes")
        boxes = list(self.state.sandboxes.values())
        if not _flag(call.q("includeDeleted")):
            boxes = [b for b in boxes if not b.deleted]
        body = self._cursored(
            call,
            boxes,
            self._sandbox_field,
            lambda b: self.render_sandbox(b, "instanceSandboxes.item", item),
        )
        return 200, body

    def _sandbox_get(self, call: Call) -> tuple[int, JSON]:
        return 200, self.render_sandbox(self._sandbox(call), "instanceSandbox")

    def _sandbox_delete(self, call: Call) -> tuple[int, JSON]:
        box = self._sandbox(call)
        box.deleted = True
        box.updated = max(self.state.clock(), box.updated + 1)
        self.state.touch()
        return 200, dict(_SUCCESS)

    def _sandbox_undelete(self, call: Call) -> tuple[int, JSON]:
        box = self._sandbox(call)
        box.deleted = False
        box.updated = max(self.state.clock(), box.updated + 1)
        self.state.touch()
        return 200, self.render_sandbox(box, "instanceSandbox")

    # -- applications ----------------------------------------------------------------------

    @staticmethod
    def _app_field(app: App, name: str) -> JSON:
        plain = {
            "id": app.id,
            "name": app.name,
            "ownerId": app.owner_id,
            "creationDate": app.created,
            "lastUpdated": app.updated,
        }
        return plain[name] if name in plain else app.extra.get(name)

    def _listed_apps(self, call: Call) -> list[App]:
        apps = list(self.state.apps.values())
        org_id = call.q("orgId")
        if org_id:
            apps = [a for a in apps if a.org_id == org_id]
        elif org_id is not None:  # blank: the user's own applications
            apps = [a for a in apps if a.owner_id == self.state.user_id]
        return apps

    def _apps_list(self, call: Call) -> tuple[int, JSON]:
        item = self._item_schema("applications")
        body = self._paged(
            call,
            self._listed_apps(call),
            self._app_field,
            lambda a: self.render_app(a, "applications.item", item),
        )
        return 200, body

    def _app_create(self, call: Call) -> tuple[int, JSON]:
        body = call.body if isinstance(call.body, dict) else {}
        org_id = body.get("orgId")
        org = None
        if org_id is not None:
            org = self.state.orgs.get(org_id)
            if org is None:
                raise not_found("Organization was not found")
        now = self.state.clock()
        app = App(
            self.state.new_id("app"),
            str(body.get("name") or "New Application"),
            org.id if org is not None else self.state.user_id,
            "organization" if org is not None else "user",
            org.id if org is not None else None,
            now,
            now,
            devices_={},
        )
        app.extra = {k: v for k, v in body.items() if k not in ("name", "orgId")}
        self.state.apps[app.id] = app
        if org is not None:
            org.app_ids.append(app.id)
        self.state.touch()
        return call.action.success_status, self.render_app(app, "application")

    def _app_get(self, call: Call) -> tuple[int, JSON]:
        return 200, self.render_app(self._app(call), "application")

    def _app_patch(self, call: Call) -> tuple[int, JSON]:
        app = self._app(call)
        body = call.body if isinstance(call.body, dict) else {}
        for key, value in body.items():
            if key == "name":
                app.name = str(value)
            else:
                app.extra[key] = value
        app.updated = max(self.state.clock(), app.updated + 1)
        return 200, self.render_app(app, "application")

    def _app_delete(self, call: Call) -> tuple[int, JSON]:
        self.state.remove_app(self._app(call).id)
        return 200, dict(_SUCCESS)

    # -- devices ---------------------------------------------------------------------------

    @staticmethod
    def _device_field(dev: Device, name: str) -> JSON:
        plain = {
            "id": dev.id,
            "name": dev.name,
            "creationDate": dev.created,
            "lastUpdated": dev.updated,
            "deviceClass": dev.device_class,
            "tags": dev.tags,
        }
        if name in plain:
            return plain[name]
        if name == "attributeName":
            return [a["name"] for a in dev.attributes]
        if name == "ancestorId":
            return dev.extra.get("ancestorIds")
        return dev.extra.get(name)

    def _devices_list(self, call: Call) -> tuple[int, JSON]:
        app = self._app(call)
        devices = list(self.state.devices(app).values())
        if _flag(call.q("queryDeleted")):
            devices = []  # deleted devices are not kept
        if call.q("query") is None:  # an advanced query overrides the simple filters
            wanted = call.q("deviceClass")
            if wanted:
                classes = {wanted} if isinstance(wanted, str) else set(wanted)
                devices = [d for d in devices if d.device_class in classes]
            tags = call.q("tagFilter")
            if tags:
                test = tag_filter(tags)
                devices = [d for d in devices if test(d.tags)]
            parent = call.q("parentId")
            if parent:
                devices = [d for d in devices if d.extra.get("parentId") == parent]
        item = self._item_schema("devices")
        body = self._paged(
            call,
            devices,
            self._device_field,
            lambda d: self.render_device(d, "devices.item", item),
            {"applicationId": app.id},
        )
        return 200, body

    def _device_create(self, call: Call) -> tuple[int, JSON]:
        app = self._app(call)
        body = call.body if isinstance(call.body, dict) else {}
        now = self.state.clock()
        dev = Device(
            self.state.new_id("device"),
            app.id,
            str(body.get("name") or "New Device"),
            now,
            now,
            str(body.get("deviceClass") or "standalone"),
            list(body.get("tags") or []),
            list(body.get("attributes") or []),
        )
        stored = ("name", "deviceClass", "tags", "attributes")
        dev.extra = {k: v for k, v in body.items() if k not in stored}
        self.state.devices(app)[dev.id] = dev
        self.state.touch()
        return call.action.success_status, self.render_device(dev, "device")

    def _device_get(self, call: Call) -> tuple[int, JSON]:
        return 200, self.render_device(self._device(call), "device")

    def _device_patch(self, call: Call) -> tuple[int, JSON]:
        dev = self._device(call)
        body = call.body if isinstance(call.body, dict) else {}
        for key, value in body.items():
            if key == "name":
                dev.name = str(value)
            elif key == "deviceClass":
                dev.device_class = str(value)
            elif key in ("tags", "attributes"):
                setattr(dev, key, list(value or []))
            else:
                dev.extra[key] = value
        dev.updated = max(self.state.clock(), dev.updated + 1)
        return 200, self.render_device(dev, "device")

    def _device_delete(self, call: Call) -> tuple[int, JSON]:
        dev = self._device(call)
        del self.state.devices(self._app(call))[dev.id]
        self.state.touch()
        return 200, dict(_SUCCESS)

    # -- device states ---------------------------------------------------------------------

    def _state_window(self, call: Call) -> tuple[int, int]:
        """[start, end] of a state query: ``start``/``end`` as for usage, or ``duration``
        ms up to ``end``, or ``since``; all states by default."""
        default = 0
        duration = call.q("duration")
        if duration is not None:
            default = -_int(duration, 0)
        elif call.q("since") is not None:
            default = _int(call.q("since"), 0)
        start, end, _ = self.time_range(call, default)
        return start, end

    @staticmethod
    def _states_in(dev: Device, start: int, end: int) -> list[tuple[int, dict[str, JSON]]]:
        return [(t, s) for t, s in dev.states if start <= t <= end]

    def _get_state(self, call: Call) -> tuple[int, JSON]:
        """The reported states in the window, newest first unless asked otherwise."""
        states = self._states_in(self._device(call), *self._state_window(call))
        if str(call.q("sortDirection") or "desc").lower() == "desc":
            states.reverse()
        limit = _int(call.q("limit", 1), 1)
        return 200, [{**state, "time": iso(t)} for t, state in states[:limit]]

    def _composite(self, dev: Device, call: Call) -> dict[str, JSON]:
        """The latest value of each attribute (of those asked for) in the window."""
        wanted = _names(call.q("attributes"))
        out: dict[str, JSON] = {}
        for t, state in self._states_in(dev, *self._state_window(call)):
            for name, value in (state.get("data") or {}).items():
                if not wanted or name in wanted:
                    out[name] = {"value": value, "time": iso(t)}
        return out

    def _get_composite_state(self, call: Call) -> tuple[int, JSON]:
        return 200, self._composite(self._device(call), call)

    def _devices_composite_state(self, call: Call) -> tuple[int, JSON]:
        app = self._app(call)
        item = self._item_schema("compositeDevicesState")

        def render(dev: Device) -> JSON:
            core = {"id": dev.id, "name": dev.name, "compositeState": self._composite(dev, call)}
            return self._render("compositeDevicesState.item", item, core, {})

        devices = list(self.state.devices(app).values())
        body = self._paged(call, devices, self._device_field, render, {"applicationId": app.id})
        return 200, body

    # -- device names, tag keys and values, attribute names -------------------------------

    def _matching_devices(self, call: Call) -> list[Device]:
        devices = sorted(self.state.devices(self._app(call)).values(), key=lambda d: d.id)
        if call.q("query") is None:
            return devices
        return self._queried(
            call, devices, self._device_field, lambda d: self.render_device(d, "device")
        )

    @staticmethod
    def _starting(call: Call, values: Iterable[str]) -> list[str]:
        """Distinct ``values`` starting with ``startsWith`` (any case), sorted; at most 1000."""
        prefix = str(call.q("startsWith") or "").casefold()
        return sorted({v for v in values if v.casefold().startswith(prefix)})[:1000]

    def _device_names(self, call: Call) -> tuple[int, JSON]:
        prefix = str(call.q("startsWith") or "").casefold()
        devices = [d for d in self._matching_devices(call) if d.name.casefold().startswith(prefix)]
        devices.sort(key=lambda d: (d.name, d.id))
        summary = [{"id": d.id, "deviceClass": d.device_class, "name": d.name} for d in devices]
        return 200, {"deviceSummary": summary[:1000]}

    def _tag_keys(self, call: Call) -> tuple[int, JSON]:
        keys = (t["key"] for d in self._matching_devices(call) for t in d.tags)
        return 200, {"tagKeys": self._starting(call, keys)}

    def _tag_values(self, call: Call) -> tuple[int, JSON]:
        key = call.q("key")
        tags = (t for d in self._matching_devices(call) for t in d.tags)
        values = self._starting(call, (t["value"] for t in tags if not key or t["key"] == key))
        return 200, ({"tagKey": key} if key else {}) | {"tagValues": values}

    def _attribute_names(self, call: Call) -> tuple[int, JSON]:
        kinds = call.q("dataType")
        kinds = {kinds} if isinstance(kinds, str) else set(kinds or ())
        attributes = (a for d in self._matching_devices(call) for a in d.attributes)
        names = (a["name"] for a in attributes if not kinds or a["dataType"] in kinds)
        return 200, {"attributeNames": self._starting(call, names)}

    # -- usage -----------------------------------------------------------------------------

    def scope(self, call: Call) -> Scope:
        """(kind, key, application IDs) the usage of an action covers."""
        resource = call.action.resource
        state = self.state
        if resource == "instance":
            ids = [a for o in state.orgs.values() for a in o.app_ids]
            ids += [a for b in state.sandboxes.values() if not b.deleted for a in b.app_ids]
            return "instance", "", ids
        if resource in ("instanceOrg", "org"):
            org = self._org(call)
            return "org", org.id, list(org.app_ids)
        if resource == "instanceSandbox":
            box = self._sandbox(call)
            return "sandbox", box.id, list(box.app_ids)
        if resource == "me":
            ids = [a.id for a in state.apps.values() if a.owner_id == state.user_id]
            return "me", "", ids
        app = self._app(call)
        return "app", app.id, [app.id]

    def time_range(self, call: Call, start_default: int = 0) -> Window:
        """(start, end, now) in ms: ``end`` 0 or absent is now; negative values count back
        from now; an absent ``start`` is ``start_default`` (0: all data)."""
        now = self.state.clock()
        end = _int(call.q("end"), 0)
        end = now if end == 0 else (now + end if end < 0 else end)
        start = _int(call.q("start"), start_default)
        start = now + start if start < 0 else start
        if start > end:
            raise invalid("start must be before end")
        return start, end, now

    def this_month(self) -> Window:
        """From the first of the clock's month to now: the current billing period."""
        now = self.state.clock()
        moment = datetime.fromtimestamp(now / 1000, tz=UTC)
        first = datetime(moment.year, moment.month, 1, tzinfo=UTC)
        return int(first.timestamp() * 1000), now, now

    def _window_weight(self, window: Window) -> int:
        return sum(self.state.hour_weight(h) for h in self.state.hours(*window))

    def payload_counts_of(self, scope: Scope, window: Window, as_bytes: bool) -> JSON:
        weights = self.state.sum_weights(*scope)
        hours = self._window_weight(window)
        out: dict[str, dict[str, int]] = {t: {} for t in PAYLOAD_TYPES}
        for i, (kind, source) in enumerate(PAYLOAD_SOURCES):
            out[kind][source] = weights[i] * hours * (PAYLOAD_SIZES[i] if as_bytes else 1)
        return out

    def per_hour(self, scope: Scope, as_bytes: bool, billable_only: bool) -> int:
        """Payloads (or bytes) in an hour of weight 1."""
        weights = self.state.sum_weights(*scope)
        return sum(
            weights[i] * (PAYLOAD_SIZES[i] if as_bytes else 1)
            for i, (kind, _) in enumerate(PAYLOAD_SOURCES)
            if not (billable_only and kind in NON_BILLABLE)
        )

    def breakdown_of(self, window: Window, per_hour: int, resolution: int) -> JSON:
        buckets: dict[int, int] = {}
        for h in self.state.hours(*window):
            slot = h * HOUR // resolution * resolution
            buckets[slot] = buckets.get(slot, 0) + per_hour * self.state.hour_weight(h)
        counts = [{"date": iso(slot), "value": value} for slot, value in buckets.items()]
        return {"start": iso(window[0]), "end": iso(window[1]), "counts": counts}

    def device_counts_of(self, scope: Scope, window: Window) -> JSON:
        weights = self.state.sum_weights(*scope)
        total = sum(self.state.device_count(self.state.apps[a]) for a in scope[2])
        counts = [
            {
                "date": iso(day * DAY),
                "created": weights[W_CREATED] * self.state.day_weight("created", day),
                "deleted": weights[W_DELETED] * self.state.day_weight("deleted", day),
                "total": total,
            }
            for day in self.state.days_in(*window)
        ]
        return {"start": iso(window[0]), "end": iso(window[1]), "counts": counts}

    def notebook_counts_of(self, scope: Scope, window: Window) -> JSON:
        weights = self.state.sum_weights(*scope)
        counts = []
        for day in self.state.days_in(*window):
            factor = 1 + self.state.day_weight("notebook", day)
            entry: dict[str, JSON] = {"date": iso(day * DAY)}
            for k, name in enumerate(NOTEBOOK_FIELDS):
                entry[name] = weights[W_NOTEBOOK + k] * factor
            counts.append(entry)
        return {"start": iso(window[0]), "end": iso(window[1]), "counts": counts}

    @staticmethod
    def _resolution(call: Call) -> int:
        return HOUR if _int(call.q("resolution", DAY), DAY) == HOUR else DAY

    def _payload_counts(self, call: Call) -> tuple[int, JSON]:
        as_bytes = _flag(call.q("asBytes"))
        return 200, self.payload_counts_of(self.scope(call), self.time_range(call), as_bytes)

    def _payload_breakdown(self, call: Call) -> tuple[int, JSON]:
        billable_only = not _flag(call.q("includeNonBillable"))
        per_hour = self.per_hour(self.scope(call), _flag(call.q("asBytes")), billable_only)
        return 200, self.breakdown_of(self.time_range(call), per_hour, self._resolution(call))

    def _device_counts(self, call: Call) -> tuple[int, JSON]:
        return 200, self.device_counts_of(self.scope(call), self.time_range(call))

    def _notebook_counts(self, call: Call) -> tuple[int, JSON]:
        return 200, self.notebook_counts_of(self.scope(call), self.time_range(call))

    def _period_summaries(self, call: Call) -> tuple[int, JSON]:
        """Usage of each listed application over [start, end] (default: this month)."""
        window = self.time_range(call, self.this_month()[0])
        parts = ("payloadCounts", "deviceCounts", "notebookMinuteCounts")
        include = _names(call.q("include")) or set(parts)
        wanted = [p for p in parts if p in include and p not in _names(call.q("exclude"))]
        item = self._item_schema("periodSummaries")

        def render(app: App) -> JSON:
            scope: Scope = ("app", app.id, [app.id])
            makers = {
                "payloadCounts": lambda: self.breakdown_of(
                    window, self.per_hour(scope, False, True), DAY
                ),
                "deviceCounts": lambda: self.device_counts_of(scope, window),
                "notebookMinuteCounts": lambda: self.notebook_counts_of(scope, window),
            }
            core: dict[str, JSON] = {"id": app.id, "applicationId": app.id, "name": app.name}
            core["summary"] = {p: makers[p]() for p in wanted}
            return self._render("periodSummaries.item", item, core, {})

        return 200, self._paged(call, self._listed_apps(call), self._app_field, render)

    def _device_weights(self, dev: Device) -> tuple[int, ...]:
        raw = _digest(self.state.seed, "device-usage", dev.id)
        return tuple(raw[i] % 5 for i in range(len(DEVICE_TYPES)))

    def _device_payload_counts(self, call: Call) -> tuple[int, JSON]:
        hours = self._window_weight(self.time_range(call))
        weights = self._device_weights(self._device(call))
        return 200, {t: w * hours for t, w in zip(DEVICE_TYPES, weights, strict=True)}

    def _device_payload_breakdown(self, call: Call) -> tuple[int, JSON]:
        per_hour = sum(self._device_weights(self._device(call)))
        return 200, self.breakdown_of(self.time_range(call), per_hour, self._resolution(call))

    # -- historical summaries --------------------------------------------------------------

    def _historical_summaries(self, call: Call) -> tuple[int, JSON]:
        now = self.state.clock()
        month_ms = _int(call.q("month"), now) if call.q("month") != "now" else now
        moment = datetime.fromtimestamp(month_ms / 1000, tz=UTC)
        first = datetime(moment.year, moment.month, 1, tzinfo=UTC)
        nxt = datetime(moment.year + moment.month // 12, moment.month % 12 + 1, 1, tzinfo=UTC)
        start, end = int(first.timestamp() * 1000), int(nxt.timestamp() * 1000) - 1
        window = self._window_weight((start, end, now))
        state = self.state
        rows: list[dict[str, JSON]] = []
        for org in state.orgs.values():
            rows.append(
                {
                    "resourceType": "organization",
                    "resourceId": org.id,
                    "resourceName": org.name,
                    "apps": list(org.app_ids),
                }
            )
            for app_id in org.app_ids:
                app = state.apps[app_id]
                rows.append(
                    {
                        "resourceType": "application",
                        "resourceId": app.id,
                        "resourceName": app.name,
                        "ownerId": org.id,
                        "ownerType": "organization",
                        "ownerName": org.name,
                        "apps": [app.id],
                    }
                )
        period = {"currentPeriodStart": iso(start), "currentPeriodEnd": iso(end)}

        def field(row: dict[str, JSON], name: str) -> JSON:
            if name == "id":
                return row["resourceId"]
            if name == "currentPeriodStart":
                return start
            return row.get(name)

        item = self._item_schema("historicalSummaries")

        def render(row: dict[str, JSON]) -> JSON:
            weights = state.sum_weights(row["resourceType"], row["resourceId"], row["apps"])
            billable = sum(
                weights[i] for i, (k, _) in enumerate(PAYLOAD_SOURCES) if k not in NON_BILLABLE
            )
            nonbillable = sum(
                weights[i] for i, (k, _) in enumerate(PAYLOAD_SOURCES) if k in NON_BILLABLE
            )
            core = {k: v for k, v in row.items() if k != "apps"}
            core.update(period)
            core["payloadBillableCount"] = billable * window
            core["payloadNonbillableCount"] = nonbillable * window
            core["applicationCount"] = len(row["apps"])
            core["deviceCount"] = sum(state.device_count(state.apps[a]) for a in row["apps"])
            return self._render("historicalSummaries.item", item, core, {})

        return 200, self._paged(call, rows, field, render)
