"""Usage numbers of the stored state: payloads, device counts and notebook minutes of any
set of applications over any window, linear in the applications' weights so that every
level adds up (see :mod:`._state`)."""

from __future__ import annotations

from datetime import UTC, datetime

from ._schema import JSON
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
    Device,
    State,
    digest,
    iso,
)

Scope = tuple[str, str, list[str]]
"""(kind, key, application IDs) usage is summed over; ``(kind, key)`` names the cache."""
Window = tuple[int, int, int]
"""(start, end, now) in ms."""


class Usage:
    """The usage of stored applications, from the state's weights and its clock."""

    def __init__(self, state: State) -> None:
        self.state = state

    def this_month(self) -> Window:
        """From the first of the clock's month to now: the current billing period."""
        now = self.state.clock()
        moment = datetime.fromtimestamp(now / 1000, tz=UTC)
        first = datetime(moment.year, moment.month, 1, tzinfo=UTC)
        return int(first.timestamp() * 1000), now, now

    def window_weight(self, window: Window) -> int:
        return sum(self.state.hour_weight(h) for h in self.state.hours(*window))

    def payload_counts_of(self, scope: Scope, window: Window, as_bytes: bool) -> JSON:
        weights = self.state.sum_weights(*scope)
        hours = self.window_weight(window)
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

    def device_weights(self, dev: Device) -> tuple[int, ...]:
        raw = digest(self.state.seed, "device-usage", dev.id)
        return tuple(raw[i] % 5 for i in range(len(DEVICE_TYPES)))
