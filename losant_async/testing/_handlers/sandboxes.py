"""Instance sandboxes: listed by cursor, deleted and undeleted."""

from __future__ import annotations

from .._call import Answer, Call
from .._schema import JSON
from .._state import DAY, Sandbox, iso
from .._usage import Scope
from ._base import SUCCESS, Area
from ._paging import cursored


class SandboxHandlers(Area):
    """Instance sandboxes."""

    def render_sandbox(self, box: Sandbox, where: str, call: Call | None = None) -> JSON:
        core = self._core(
            box,
            "instanceSandboxId",
            instanceId=self.state.instance_id,
            firstName=box.first_name,
            lastName=box.last_name,
            fullName=f"{box.first_name} {box.last_name}",
            email=box.email,
        )
        if box.deleted:
            core["dataDeletion"] = iso(box.updated + 30 * DAY)
        # Seeded sandbox users belong to no org.
        apps = [self.state.apps[a] for a in box.app_ids if a in self.state.apps]
        devices = sum(self.state.device_count(a) for a in apps)
        core["orgs"] = []
        scope: Scope = ("sandbox", box.id, [a.id for a in apps])
        self._summary(where, core, scope, call=call, appCount=len(apps), deviceCount=devices)
        drop = ("dataDeletion", "permanentDeletion")
        return self._render(where, core, box.extra, drop)

    def sandboxes_list(self, call: Call) -> Answer:
        boxes = list(self.state.sandboxes.values())
        if not call.flag("includeDeleted"):
            boxes = [b for b in boxes if not b.deleted]
        body = cursored(
            call,
            boxes,
            Sandbox.value,
            lambda b: self.render_sandbox(b, "instanceSandboxes.item", call),
        )
        return 200, body

    def sandbox_get(self, call: Call) -> Answer:
        return 200, self.render_sandbox(self._sandbox(call), "instanceSandbox", call)

    def sandbox_delete(self, call: Call) -> Answer:
        self._set_deleted(self._sandbox(call), True)
        return 200, dict(SUCCESS)

    def sandbox_undelete(self, call: Call) -> Answer:
        box = self._set_deleted(self._sandbox(call), False)
        return 200, self.render_sandbox(box, "instanceSandbox")

    def _set_deleted(self, box: Sandbox, deleted: bool) -> Sandbox:
        box.deleted = deleted
        box.updated = max(self.state.clock(), box.updated + 1)
        self.state.touch()  # a deleted sandbox's usage leaves the instance's
        return box
