"""Applications of orgs, sandboxes and the token's user."""

from __future__ import annotations

from .._call import Answer, Call, not_found
from .._schema import JSON
from .._state import App
from .._usage import Scope
from ._base import SUCCESS, Area
from ._paging import paged


class ApplicationHandlers(Area):
    """Applications."""

    def render_app(self, app: App, where: str, call: Call | None = None) -> dict[str, JSON]:
        core = self._core(
            app, "applicationId", name=app.name, ownerId=app.owner_id, ownerType=app.owner_type
        )
        org = self.state.orgs.get(app.org_id or "")
        if org is not None:
            core["organizationName"] = org.name
        scope: Scope = ("app", app.id, [app.id])
        self._summary(where, core, scope, call=call, deviceCount=self.state.device_count(app))
        return self._render(where, core, app.extra)

    def apps_list(self, call: Call) -> Answer:
        body = paged(
            call,
            self._listed_apps(call),
            App.value,
            lambda a: self.render_app(a, "applications.item", call),
        )
        return 200, body

    def app_create(self, call: Call) -> Answer:
        body = call.body_fields()
        org_id = body.get("orgId")
        org = None
        if org_id is not None:
            org = self.state.orgs.get(org_id)
            if org is None:
                raise not_found("Organization was not found")
        now = self.state.clock()
        app = App(
            id=self.state.new_id("app"),
            name=str(body.get("name") or "New Application"),
            owner_id=org.id if org is not None else self.state.user_id,
            owner_type="organization" if org is not None else "user",
            org_id=org.id if org is not None else None,
            created=now,
            updated=now,
            devices_={},
            extra={k: v for k, v in body.items() if k not in ("name", "orgId")},
        )
        self.state.apps[app.id] = app
        if org is not None:
            org.app_ids.append(app.id)
        self.state.touch()
        return call.action.success_status, self.render_app(app, "application")

    def app(self, call: Call) -> Answer:
        """``application.get`` and ``.patch``."""
        return 200, self.render_app(self._patched(self._app(call), call), "application", call)

    def app_delete(self, call: Call) -> Answer:
        self.state.remove_app(self._app(call).id)
        return 200, dict(SUCCESS)
