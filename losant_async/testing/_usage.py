"""Usage numbers of the stored state: payloads, device counts and notebook minutes of any
set of applications over any window, linear in the applications' weights so that every
level adds up (see :mod:`._state`)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import TypeVar

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
T = TypeVar("T")
_CACHED = 256  # windows remembered per kind (a real clock makes every window new)


class Usage:
    """The usage of stored applications, from the state's weights and its clock."""

    def __init__(self, state: State) -> None:
        self.state = state
        # What a window's answers share whatever the scope (they are linear in its
        # weights): summed hour weights, ISO dates and the day weights, per span of hours
        # or days (a window ending now has the same span until the next hour starts).
        self._memo: dict[tuple[object, ...], object] = {}
        self._month: Window | None = None  # this_month() at the clock's last reading

    def _span(self, window: Window, unit: int) -> tuple[int, int]:
        """First and last index of the hours (or days) the window has usage in, as
        :meth:`State.hours` walks them."""
        start, end, now = window
        first, last = max(start, self.state.data_start(now)), min(end, now)
        return -(-first // unit), last // unit

    def _cached(self, key: tuple[object, ...], make: Callable[[], T]) -> T:
        found = self._memo.get(key)
        if found is None:
            if len(self._memo) >= _CACHED:
                self._memo.clear()
            found = self._memo[key] = make()
        return found  # type: ignore[return-value]

    def this_month(self) -> Window:
        """From the first of the clock's month to now: the current billing period."""
        now = self.state.clock()
        month = self._month
        if month is None or month[2] != now:  # a fixed clock gives the same every time
            moment = datetime.fromtimestamp(now / 1000, tz=UTC)
            first = datetime(moment.year, moment.month, 1, tzinfo=UTC)
            month = self._month = (int(first.timestamp() * 1000), now, now)
        return month

    def window_weight(self, window: Window) -> int:
        return self._cached(
            ("hours", *self._span(window, HOUR)),
            lambda: sum(self.state.hour_weight(h) for h in self.state.hours(*window)),
        )

    def _buckets(self, window: Window, resolution: int) -> list[tuple[str, int]]:
        """(ISO date, summed hour weights) of each ``resolution`` slot of the window."""

        def make() -> list[tuple[str, int]]:
            buckets: dict[int, int] = {}
            for h in self.state.hours(*window):
                slot = h * HOUR // resolution * resolution
                buckets[slot] = buckets.get(slot, 0) + self.state.hour_weight(h)
            return [(iso(slot), weight) for slot, weight in buckets.items()]

        return self._cached(("buckets", resolution, *self._span(window, HOUR)), make)

    def _days(self, window: Window) -> list[tuple[str, int, int, int]]:
        """(ISO date, created, deleted and notebook weights) of each day of the window."""
        weight = self.state.day_weight
        return self._cached(
            ("days", *self._span(window, DAY)),
            lambda: [
                (iso(d * DAY), weight("created", d), weight("deleted", d), weight("notebook", d))
                for d in self.state.days_in(*window)
            ],
        )

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
        counts: list[JSON] = [
            {"date": when, "value": per_hour * weight}
            for when, weight in self._buckets(window, resolution)
        ]
        return {"start": iso(window[0]), "end": iso(window[1]), "counts": counts}

    def device_counts_of(self, scope: Scope, window: Window) -> JSON:
        weights = self.state.sum_weights(*scope)
        total = sum(self.state.device_count(self.state.apps[a]) for a in scope[2])
        counts: list[JSON] = [
            {
                "date": when,
                "created": weights[W_CREATED] * created,
                "deleted": weights[W_DELETED] * deleted,
                "total": total,
            }
            for when, created, deleted, _ in self._days(window)
        ]
        return {"start": iso(window[0]), "end": iso(window[1]), "counts": counts}

    def notebook_counts_of(self, scope: Scope, window: Window) -> JSON:
        weights = self.state.sum_weights(*scope)
        counts: list[JSON] = []
        own = weights[W_NOTEBOOK : W_NOTEBOOK + len(NOTEBOOK_FIELDS)]
        fields = tuple(zip(NOTEBOOK_FIELDS, own, strict=True))
        for when, _, _, notebook in self._days(window):
            factor = 1 + notebook
            entry: dict[str, JSON] = {"date": when}
            for name, weight in fields:
                entry[name] = weight * factor
            counts.append(entry)
        return {"start": iso(window[0]), "end": iso(window[1]), "counts": counts}

    def device_weights(self, dev: Device) -> tuple[int, ...]:
        raw = digest(self.state.seed, "device-usage", dev.id)
        return tuple(raw[i] % 5 for i in range(len(DEVICE_TYPES)))
