"""Usage: payload counts and breakdowns, device counts and notebook minutes at every
level, the instance's historical summaries and the applications' period summaries."""

from __future__ import annotations

from datetime import UTC, datetime

from .._call import Answer, Call
from .._schema import JSON
from .._state import DAY, DEVICE_TYPES, HOUR, NON_BILLABLE, PAYLOAD_SOURCES, App, iso
from .._usage import Scope
from ._base import Area
from ._paging import paged


class UsageHandlers(Area):
    """Usage numbers of the stored objects."""

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

    @staticmethod
    def _resolution(call: Call) -> int:
        return HOUR if call.int("resolution", DAY) == HOUR else DAY

    def payload_counts(self, call: Call) -> Answer:
        as_bytes = call.flag("asBytes")
        return 200, self.usage.payload_counts_of(self.scope(call), self.time_range(call), as_bytes)

    def payload_breakdown(self, call: Call) -> Answer:
        billable_only = not call.flag("includeNonBillable")
        per_hour = self.usage.per_hour(self.scope(call), call.flag("asBytes"), billable_only)
        return 200, self.usage.breakdown_of(self.time_range(call), per_hour, self._resolution(call))

    def device_counts(self, call: Call) -> Answer:
        return 200, self.usage.device_counts_of(self.scope(call), self.time_range(call))

    def notebook_counts(self, call: Call) -> Answer:
        return 200, self.usage.notebook_counts_of(self.scope(call), self.time_range(call))

    def period_summaries(self, call: Call) -> Answer:
        """Usage of each listed application over [start, end] (default: this month)."""
        window = self.time_range(call, self.usage.this_month()[0])
        parts = ("payloadCounts", "deviceCounts", "notebookMinuteCounts")
        include = call.names("include") or set(parts)
        wanted = [p for p in parts if p in include and p not in call.names("exclude")]

        def render(app: App) -> JSON:
            scope: Scope = ("app", app.id, [app.id])
            makers = {
                "payloadCounts": lambda: self.usage.breakdown_of(
                    window, self.usage.per_hour(scope, False, True), DAY
                ),
                "deviceCounts": lambda: self.usage.device_counts_of(scope, window),
                "notebookMinuteCounts": lambda: self.usage.notebook_counts_of(scope, window),
            }
            # Every property the item's schema has, built to it: no template to fill.
            summary: dict[str, JSON] = {p: makers[p]() for p in wanted}
            return {"id": app.id, "applicationId": app.id, "name": app.name, "summary": summary}

        return 200, paged(call, self._listed_apps(call), App.value, render)

    def device_payload_counts(self, call: Call) -> Answer:
        hours = self.usage.window_weight(self.time_range(call))
        weights = self.usage.device_weights(self._device(call))
        return 200, {t: w * hours for t, w in zip(DEVICE_TYPES, weights, strict=True)}

    def device_payload_breakdown(self, call: Call) -> Answer:
        per_hour = sum(self.usage.device_weights(self._device(call)))
        return 200, self.usage.breakdown_of(self.time_range(call), per_hour, self._resolution(call))

    def historical_summaries(self, call: Call) -> Answer:
        now = self.state.clock()
        month_ms = call.int("month", now) if call.q("month") != "now" else now
        moment = datetime.fromtimestamp(month_ms / 1000, tz=UTC)
        first = datetime(moment.year, moment.month, 1, tzinfo=UTC)
        nxt = datetime(moment.year + moment.month // 12, moment.month % 12 + 1, 1, tzinfo=UTC)
        start, end = int(first.timestamp() * 1000), int(nxt.timestamp() * 1000) - 1
        window = self.usage.window_weight((start, end, now))
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
            return self._render("historicalSummaries.item", core, {})

        return 200, paged(call, rows, field, render)
