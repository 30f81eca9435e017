"""The instance, its user (``/me``, instance members) and its organisations."""

from __future__ import annotations

from .._call import Answer, Call
from .._schema import JSON
from .._state import Instance, Org
from .._usage import Scope
from ._base import SUCCESS, Area
from ._paging import paged, sorted_filtered

_MEMBER_FIELDS = (
    "email",
    "firstName",
    "lastName",
    "avatarUrl",
    "twoFactorAuthEnabled",
    "ssoLinked",
)


class OrgHandlers(Area):
    """The instance, the token's user and the orgs."""

    def render_instance(self, inst: Instance, where: str) -> JSON:
        members = [{"userId": self.state.user_id, "role": "admin"}]
        core = self._core(inst, "instanceId", name=inst.name, members=members)
        return self._render(where, core, inst.extra)

    def render_me(self) -> dict[str, JSON]:
        """The token's user: a member of every org and admin of the instance; owner of the
        applications made without an org."""
        state = self.state
        apps = [a for a in state.apps.values() if a.owner_id == state.user_id]
        core: dict[str, JSON] = {"id": state.user_id, "userId": state.user_id}
        self._summary(
            "me",
            core,
            ("me", "", [a.id for a in apps]),
            orgCount=len(state.orgs),
            instanceCount=1,
            appCount=len(apps),
            deviceCount=sum(state.device_count(a) for a in apps),
        )
        drop = ("recentDashboards", "recentApplications", "recentOrganizations")
        return self._render("me", core, state.user, drop)

    def render_org(self, org: Org, where: str, call: Call | None = None) -> dict[str, JSON]:
        apps = [self.state.apps[a] for a in org.app_ids if a in self.state.apps]
        core = self._core(org, "orgId", name=org.name, instanceId=self.state.instance_id, tags=[])
        devices = sum(self.state.device_count(a) for a in apps)
        scope: Scope = ("org", org.id, [a.id for a in apps])
        self._summary(
            where, core, scope, call=call, appCount=len(apps), deviceCount=devices, memberCount=1
        )
        return self._render(where, core, org.extra)

    def instances_list(self, call: Call) -> Answer:
        body = paged(
            call,
            [self.state.instance],
            Instance.value,
            lambda i: self.render_instance(i, "instances.item"),
        )
        return 200, body

    def instance(self, call: Call) -> Answer:
        """``instance.get`` and ``.patch``."""
        return 200, self.render_instance(self._patched(self.state.instance, call), "instance")

    def members_list(self, call: Call) -> Answer:
        """The token's user, the one admin."""
        me = self.render_me()
        member: dict[str, JSON] = {k: me[k] for k in _MEMBER_FIELDS if k in me}
        member |= {"instanceId": self.state.instance_id, "userId": self.state.user_id}
        member["role"] = "admin"
        members, meta = sorted_filtered(
            call,
            [member],
            lambda m, name: m.get(name),
            lambda m: self._render("instanceMembers.item", m, {}),
        )
        items = [self._render("instanceMembers.item", m, {}) for m in members]
        meta["instanceId"] = self.state.instance_id
        return 200, {"items": items, "count": len(items), **meta}

    def me(self, call: Call) -> Answer:
        if call.action.name == "patch" and isinstance(call.body, dict):
            secret = ("password", "currentCredentials")
            self.state.user.update({k: v for k, v in call.body.items() if k not in secret})
        return 200, self.render_me()

    def orgs_list(self, call: Call) -> Answer:
        collection = call.action.success_schema or "instanceOrgs"
        meta: dict[str, JSON] = {}
        if "instanceId" in call.path_params:
            meta["instanceId"] = self.state.instance_id
        body = paged(
            call,
            list(self.state.orgs.values()),
            Org.value,
            lambda o: self.render_org(o, f"{collection}.item", call),
            meta,
        )
        return 200, body

    def org_create(self, call: Call) -> Answer:
        body = call.body_fields()
        now = self.state.clock()
        org = Org(
            id=self.state.new_id("org"),
            name=str(body.get("name") or "New Org"),
            created=now,
            updated=now,
            extra={k: v for k, v in body.items() if k != "name"},
        )
        self.state.orgs[org.id] = org
        self.state.touch()
        return call.action.success_status, self.render_org(org, "org")

    def org(self, call: Call) -> Answer:
        """``instanceOrg.get``/``.patch`` and ``org.get``/``.patch``."""
        org = self._patched(self._org(call), call)
        return 200, self.render_org(org, call.action.success_schema or "org", call)

    def org_delete(self, call: Call) -> Answer:
        self.state.remove_org(self._org(call).id)
        return 200, dict(SUCCESS)
