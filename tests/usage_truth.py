"""The usage a scrape must give, computed from the local server's stored state by its own
formulas (not through the client): shared by the usage tests."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

import msgspec

from losant_async.testing import FakeLosant
from losant_async.testing._state import (
    DAY,
    HOUR,
    NON_BILLABLE,
    NOTEBOOK_FIELDS,
    PAYLOAD_SOURCES,
    W_CREATED,
    W_DELETED,
    W_NOTEBOOK,
    State,
)
from losant_async.usage import METRICS, UsageRow

Key = tuple[Any, ...]

# A fixed window in the past (whole hours), inside the server's usage history.
END = (int(time.time() * 1000) // HOUR - 2) * HOUR
START = END - 3 * DAY + 5 * HOUR


def dt(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


def month_start(ms: int) -> datetime:
    moment = dt(ms)
    return datetime(moment.year, moment.month, 1, tzinfo=UTC)


def entity_truth(
    state: State,
    entity: tuple[str, str, str, str | None],
    apps: list[str],
    start: int,
    end: int,
    metrics: Iterable[str],
    resolution: str,
) -> list[Key]:
    """The rows of one entity whose usage is that of ``apps``, by the server's formulas."""
    now = state.clock()  # the server's clock, fixed or not
    weights = [0] * len(state.app_weights(apps[0])) if apps else [0] * 64
    for app in apps:
        for i, w in enumerate(state.app_weights(app)):
            weights[i] += w
    hours = list(state.hours(start, end, now))
    days = list(state.days_in(start, end, now))
    window = sum(state.hour_weight(h) for h in hours)
    out: list[Key] = []

    def row(metric: str, when: datetime | None, name: str, value: int) -> None:
        out.append((*entity, metric, when, name, value, None))

    for metric in metrics:
        if metric == "payload_counts":
            for i, (kind, source) in enumerate(PAYLOAD_SOURCES):
                row(metric, None, f"{kind}.{source}", weights[i] * window)
        elif metric == "payload_counts_breakdown":
            per_hour = sum(
                weights[i] for i, (k, _) in enumerate(PAYLOAD_SOURCES) if k not in NON_BILLABLE
            )
            res = HOUR if resolution == "hour" else DAY
            buckets: dict[datetime, int] = {}
            for h in hours:
                slot = h * HOUR // res * res
                when = month_start(slot) if resolution == "month" else dt(slot)
                buckets[when] = buckets.get(when, 0) + per_hour * state.hour_weight(h)
            for when, value in buckets.items():
                row(metric, when, "value", value)
        elif metric == "device_counts":
            total = sum(state.device_count(state.apps[a]) for a in apps)
            for d in days:
                when = dt(d * DAY)
                row(metric, when, "created", weights[W_CREATED] * state.day_weight("created", d))
                row(metric, when, "deleted", weights[W_DELETED] * state.day_weight("deleted", d))
                row(metric, when, "total", total)
        elif metric == "notebook_minute_counts":
            for d in days:
                factor = 1 + state.day_weight("notebook", d)
                for k, name in enumerate(NOTEBOOK_FIELDS):
                    row(metric, dt(d * DAY), name, weights[W_NOTEBOOK + k] * factor)
    return out


def truth(
    server: FakeLosant,
    *,
    start: int = START,
    end: int = END,
    metrics: Iterable[str] = METRICS,
    include: Iterable[str] = ("organization", "sandbox", "application"),
    resolution: str = "day",
    orgs: Iterable[str] | None = None,
    rest: bool = True,
) -> Counter[Key]:
    """Every row a scrape must give: ``orgs`` (all by default) with their applications,
    and with ``rest`` the instance level, the sandboxes and theirs."""
    state = server.state
    inst = state.instance_id
    want = set(include)
    metrics = list(metrics)
    rows: list[Key] = []

    def add(kind: str, rid: str, name: str, parent: str | None, apps: list[str]) -> None:
        if kind in want:
            entity = (kind, rid, name, parent)
            rows.extend(entity_truth(state, entity, apps, start, end, metrics, resolution))

    chosen = list(state.orgs) if orgs is None else list(orgs)
    live_boxes = [b for b in state.sandboxes.values() if not b.deleted]
    if rest:
        every = [a for o in state.orgs.values() for a in o.app_ids]
        every += [a for b in live_boxes for a in b.app_ids]
        add("instance", inst, state.instance.name, None, every)
    for org_id in chosen:
        org = state.orgs[org_id]
        add("organization", org.id, org.name, inst, list(org.app_ids))
        for app_id in org.app_ids:
            add("application", app_id, state.apps[app_id].name, org.id, [app_id])
    if rest:
        for box in live_boxes:
            add("sandbox", box.id, f"{box.first_name} {box.last_name}", inst, list(box.app_ids))
            for app_id in box.app_ids:
                add("application", app_id, state.apps[app_id].name, box.id, [app_id])
    return Counter(rows)


def keyed(rows: Iterable[UsageRow]) -> Counter[Key]:
    return Counter(msgspec.structs.astuple(r) for r in rows)
