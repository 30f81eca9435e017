"""The seeded enterprise instance: orgs, sandboxes, applications, devices and their usage.

Everything derives from the seed, so two servers with the same options hold the same IDs,
names and usage numbers. Usage is linear in per-application weights and per-hour weights,
so every total (org, sandbox, instance) is exactly the sum of its applications: the
instance's is the sum of its orgs' and its live (not deleted) sandboxes'. Applications of
the token's own user (made without an org) belong to no org, sandbox or instance.
"""

from __future__ import annotations

import functools
import hashlib
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import ClassVar

from ._clock import Clock
from ._schema import JSON

HOUR = 3_600_000
DAY = 24 * HOUR
# 2023-01-01T00:00:00Z: seeded objects were created after this.
EPOCH = 1_672_531_200_000

# (type, source) pairs with data, and bytes per payload for ``asBytes``.
PAYLOAD_SOURCES: tuple[tuple[str, str], ...] = (
    ("deviceState", "mqtt"),
    ("deviceState", "rest"),
    ("mqttIn", "mqtt"),
    ("mqttOut", "mqtt"),
    ("deviceCommand", "flow"),
    ("deviceConnect", "mqtt"),
    ("deviceDisconnect", "mqtt"),
    ("webhook", "webhook"),
    ("timer", "flow"),
    ("event", "flow"),
    ("dataTable", "flow"),
    ("endpoint", "experience"),
)
PAYLOAD_TYPES: tuple[str, ...] = (
    "appFile", "dataTable", "deviceCommand", "deviceConnect", "deviceCreate",
    "deviceDisconnect", "deviceState", "endpoint", "event", "flowError", "inboundEmail",
    "integration", "mqttIn", "mqttOut", "notebook", "resourceJob", "timer", "virtualButton",
    "webhook",
)  # fmt: skip
PAYLOAD_SIZES: tuple[int, ...] = tuple(96 + 16 * i for i in range(len(PAYLOAD_SOURCES)))
NON_BILLABLE = frozenset({"deviceConnect", "deviceDisconnect"})
DEVICE_TYPES = ("deviceCommand", "deviceConnect", "deviceDisconnect", "deviceState", "mqttIn",
                "mqttOut")  # fmt: skip
NOTEBOOK_FIELDS = ("minutes", "completed", "errored", "timeout", "canceled")

_P = len(PAYLOAD_SOURCES)
# Layout of an application's weight vector.
W_CREATED = _P
W_DELETED = _P + 1
W_NOTEBOOK = _P + 2  # five entries, NOTEBOOK_FIELDS order
W_LEN = _P + 2 + len(NOTEBOOK_FIELDS)

_ADJ = ("Amber", "Brisk", "Cobalt", "Dusty", "Eager", "Fuzzy", "Golden", "Hollow", "Ivory",
        "Jolly", "Keen", "Lunar", "Misty", "Noble", "Olive", "Rapid")  # fmt: skip
_NOUN = ("Falcon", "Harbor", "Meadow", "Canyon", "Beacon", "Orchard", "Summit", "Glacier",
         "Prairie", "Delta", "Forge", "Lagoon", "Quarry", "Ridge", "Tundra", "Willow")  # fmt: skip
_FIRST = ("Ada", "Ben", "Cleo", "Dev", "Eli", "Fay", "Gus", "Hana", "Ivan", "Jo", "Kai", "Lia",
          "Max", "Nia", "Oto", "Pia")  # fmt: skip
# Seeded devices report these attributes and carry the tags ``floor`` (1-3) and ``zone``.
_ATTRIBUTES = ({"name": "temperature", "dataType": "number"},
               {"name": "humidity", "dataType": "number"})  # fmt: skip
_ZONES = ("north", "south", "east", "west")
_CLASSES = ("standalone", "gateway", "peripheral")
_LAST = ("Arden", "Blake", "Cruz", "Dahl", "Ellis", "Ford", "Gray", "Hale", "Irwin", "Jones",
         "Kerr", "Lund", "Moss", "Nash", "Ortiz", "Park")  # fmt: skip


def digest(*parts: object) -> bytes:
    return hashlib.blake2b(":".join(map(str, parts)).encode(), digest_size=32).digest()


def _number(*parts: object) -> int:
    return int.from_bytes(digest(*parts)[:8], "big")


@functools.lru_cache(maxsize=1 << 12, typed=True)  # the same few moments, again and again
def iso(ms: int) -> str:
    """``2024-01-01T00:00:00.000Z``."""
    dt = datetime.fromtimestamp(ms / 1000, tz=UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


def parse_time(value: JSON, default: int) -> int:
    """A time as a state carries it (epoch ms, an ISO string, ``{"$date": ...}``) in ms;
    ``default`` when absent or unreadable."""
    if isinstance(value, dict):
        value = value.get("$date")
    if isinstance(value, bool) or value is None:
        return default
    if isinstance(value, int | float):
        return int(value)
    text = str(value)
    try:
        return int(text)
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return default
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return round(moment.timestamp() * 1000)


def _attributes(*names: str) -> dict[str, str]:
    """API field names and the attributes that keep them (``deviceClass``: ``device_class``)."""
    return {n: re.sub(r"(?<!^)(?=[A-Z])", "_", n).lower() for n in names}


# Fields every stored object keeps as attributes, by API name.
_COMMON = {"id": "id", "creationDate": "created", "lastUpdated": "updated"}


@dataclass(slots=True, kw_only=True)
class Stored:
    """What every stored object has: an ID, creation and update times (ms), and the fields
    set through the API that are kept as sent (``extra``)."""

    FIELDS: ClassVar[dict[str, str]] = {}  # API name -> attribute, beyond ``_COMMON``

    id: str
    created: int
    updated: int
    extra: dict[str, JSON] = field(default_factory=dict)

    def value(self, name: str) -> JSON:
        """A field by its API name (for sorting and filters): an attribute, else as sent."""
        attr = _COMMON.get(name) or self.FIELDS.get(name)
        return getattr(self, attr) if attr else self.extra.get(name)

    def patch(self, body: dict[str, JSON], now: int) -> None:
        """Apply a PATCH body (kept fields to their attributes, the rest as sent) and move
        ``updated`` forward, even when the clock stands still."""
        for key, value in body.items():
            attr = self.FIELDS.get(key)
            if attr is None:
                self.extra[key] = value
            elif isinstance(getattr(self, attr), list):
                setattr(self, attr, list(value or []))
            else:
                setattr(self, attr, str(value))
        self.updated = max(now, self.updated + 1)


@dataclass(slots=True, kw_only=True)
class Device(Stored):
    FIELDS = _attributes("name", "deviceClass", "tags", "attributes")

    app_id: str
    name: str
    device_class: str = "standalone"
    tags: list[dict[str, str]] = field(default_factory=list)
    attributes: list[dict[str, JSON]] = field(default_factory=list)
    # Reported states, oldest first: ``(time in ms, the state without its time)``.
    states: list[tuple[int, dict[str, JSON]]] = field(default_factory=list)

    def value(self, name: str) -> JSON:
        if name == "attributeName":
            return [a["name"] for a in self.attributes]
        if name == "ancestorId":
            return self.extra.get("ancestorIds")
        return Stored.value(self, name)


@dataclass(slots=True, kw_only=True)
class App(Stored):
    FIELDS = _attributes("name")

    name: str
    owner_id: str
    owner_type: str  # organization | user
    org_id: str | None
    seeded_devices: int = 0
    devices_: dict[str, Device] | None = None

    def value(self, name: str) -> JSON:
        return self.owner_id if name == "ownerId" else Stored.value(self, name)


@dataclass(slots=True, kw_only=True)
class Instance(Stored):
    FIELDS = _attributes("name")

    name: str


@dataclass(slots=True, kw_only=True)
class Org(Stored):
    FIELDS = _attributes("name")

    name: str
    app_ids: list[str] = field(default_factory=list)


@dataclass(slots=True, kw_only=True)
class Sandbox(Stored):
    FIELDS = _attributes("firstName", "lastName", "email")

    first_name: str
    last_name: str
    email: str
    app_ids: list[str] = field(default_factory=list)
    deleted: bool = False


class State:
    """All stored objects, built from the seed (devices on first use)."""

    def __init__(
        self,
        seed: int,
        *,
        orgs: int,
        sandboxes: int,
        apps_per_org: int,
        devices_per_app: int,
        days: int,
        clock: Clock | None = None,
    ) -> None:
        self.seed = seed
        self.clock = clock if clock is not None else Clock()
        self.days = days
        self.devices_per_app = devices_per_app
        self.instance_id = self._id("instance")
        self.user_id = self._id("user")
        n = _number(seed, "instance")
        created = EPOCH - DAY - n % DAY
        self.instance = Instance(
            id=self.instance_id,
            name=f"{_ADJ[n % 16]} {_NOUN[(n >> 4) % 16]} Instance",
            created=created,
            updated=created + (n >> 8) % (30 * DAY),
        )
        self.user: dict[str, JSON] = {}  # fields of the token's user set through the API
        self.orgs: dict[str, Org] = {}
        self.sandboxes: dict[str, Sandbox] = {}
        self.apps: dict[str, App] = {}
        self.version = 0  # bumped on every change that moves usage totals
        self._created = 0
        self._weights: dict[str, tuple[int, ...]] = {}
        self._sums: dict[tuple[str, str], tuple[int, tuple[int, ...]]] = {}
        self._hour_w: dict[int, int] = {}
        self._day_w: dict[tuple[str, int], int] = {}
        for i in range(orgs):
            n = _number(seed, "org", i)
            created = EPOCH + i * HOUR + n % HOUR
            org = Org(
                id=self._id("org", i),
                name=f"{_ADJ[n % 16]} {_NOUN[(n >> 4) % 16]} Org {i}",
                created=created,
                updated=created + (n >> 8) % (30 * DAY),
            )
            self.orgs[org.id] = org
            for j in range(apps_per_org):
                self._seed_app(org.id, "organization", org.id, f"{i}.{j}", org.app_ids)
        for i in range(sandboxes):
            n = _number(seed, "sandbox", i)
            first, last = _FIRST[n % 16], _LAST[(n >> 4) % 16]
            created = EPOCH + i * HOUR + n % HOUR
            box = Sandbox(
                id=self._id("sandbox", i),
                first_name=first,
                last_name=last,
                email=f"{first}.{last}.{i}@example.com".lower(),
                created=created,
                updated=created + (n >> 8) % (30 * DAY),
            )
            self.sandboxes[box.id] = box
            self._seed_app(box.id, "user", None, f"s{i}", box.app_ids)

    def _id(self, *parts: object) -> str:
        return digest(self.seed, *parts)[:12].hex()

    def _seed_app(
        self, owner: str, owner_type: str, org_id: str | None, key: str, into: list[str]
    ) -> None:
        n = _number(self.seed, "app", key)
        created = EPOCH + n % (365 * DAY)
        app = App(
            id=self._id("app", key),
            name=f"{_ADJ[n % 16]} {_NOUN[(n >> 4) % 16]} App {key}",
            owner_id=owner,
            owner_type=owner_type,
            org_id=org_id,
            created=created,
            updated=created + (n >> 8) % (30 * DAY),
            seeded_devices=self.devices_per_app,
        )
        self.apps[app.id] = app
        into.append(app.id)

    def new_id(self, kind: str) -> str:
        """A fresh ID for an object created through the API."""
        self._created += 1
        return self._id("new", kind, self._created)

    def touch(self) -> None:
        self.version += 1

    # -- devices ---------------------------------------------------------------------------

    def devices(self, app: App) -> dict[str, Device]:
        """The devices of ``app``; seeded ones are made on first use."""
        if app.devices_ is None:
            app.devices_ = {}
            for k in range(app.seeded_devices):
                n = _number(self.seed, "device", app.id, k)
                created = max(app.created, EPOCH) + n % (30 * DAY)
                dev = Device(
                    id=self._id("device", app.id, k),
                    app_id=app.id,
                    name=f"{_NOUN[n % 16]} Sensor {k}",
                    created=created,
                    updated=created + (n >> 8) % DAY,
                    device_class=(
                        ("standalone", "gateway", "peripheral")[(n >> 16) % 3]
                        if k
                        else "standalone"
                    ),
                    tags=[
                        {"key": "floor", "value": str(1 + (n >> 20) % 3)},
                        {"key": "zone", "value": _ZONES[(n >> 24) % 4]},
                    ],
                    attributes=[dict(a) for a in _ATTRIBUTES],
                )
                app.devices_[dev.id] = dev
        return app.devices_

    def record_state(self, app_id: str, device_id: str, state: dict[str, JSON]) -> None:
        """Keep a reported state (its ``time``, absent: now) for ``getState`` and
        ``getCompositeState``."""
        device = self.devices(self.apps[app_id])[device_id]
        when = parse_time(state.get("time"), self.clock())
        device.states.append((when, {k: v for k, v in state.items() if k != "time"}))
        device.states.sort(key=lambda s: s[0])

    def device_count(self, app: App) -> int:
        return app.seeded_devices if app.devices_ is None else len(app.devices_)

    # -- removal ---------------------------------------------------------------------------

    def remove_app(self, app_id: str) -> None:
        app = self.apps.pop(app_id, None)
        if app is None:
            return
        owner = self.orgs.get(app.owner_id) or self.sandboxes.get(app.owner_id)
        if owner is not None and app_id in owner.app_ids:
            owner.app_ids.remove(app_id)
        self.touch()

    def remove_org(self, org_id: str) -> None:
        org = self.orgs.pop(org_id, None)
        if org is None:
            return
        for app_id in list(org.app_ids):
            self.remove_app(app_id)
        self.touch()

    # -- usage -----------------------------------------------------------------------------

    def app_weights(self, app_id: str) -> tuple[int, ...]:
        """Per-application weights; usage of any window is weight x window weight."""
        found = self._weights.get(app_id)
        if found is None:
            raw = digest(self.seed, "usage", app_id)
            payload = [(raw[i] % 9) * (4 if i < 2 else 1) for i in range(_P)]
            extra = [raw[_P] % 3, raw[_P + 1] % 2]
            notebook = [raw[_P + 2] % 6, raw[_P + 3] % 4, raw[_P + 4] % 2, raw[_P + 5] % 2,
                        raw[_P + 6] % 2]  # fmt: skip
            found = self._weights[app_id] = (*payload, *extra, *notebook)
        return found

    def sum_weights(self, scope: str, key: str, app_ids: Iterable[str]) -> tuple[int, ...]:
        """Summed weights of ``app_ids`` (cached per scope until the state changes)."""
        cached = self._sums.get((scope, key))
        if cached is not None and cached[0] == self.version:
            return cached[1]
        total = [0] * W_LEN
        for app_id in app_ids:
            for i, w in enumerate(self.app_weights(app_id)):
                total[i] += w
        result = tuple(total)
        self._sums[(scope, key)] = (self.version, result)
        return result

    def hour_weight(self, hour: int) -> int:
        """Weight of the hour starting at ``hour * HOUR`` ms."""
        w = self._hour_w.get(hour)
        if w is None:
            w = self._hour_w[hour] = 1 + _number(self.seed, "hour", hour) % 4
        return w

    def day_weight(self, kind: str, day: int) -> int:
        w = self._day_w.get((kind, day))
        if w is None:
            w = self._day_w[(kind, day)] = _number(self.seed, kind, day) % 3
        return w

    def data_start(self, now: int) -> int:
        """Usage exists from midnight ``days`` days ago up to now."""
        return (now // DAY - self.days) * DAY

    def hours(self, start: int, end: int, now: int) -> Iterator[int]:
        """Hour indexes with usage whose start lies in [start, end]."""
        return self._starts(start, end, now, HOUR)

    def days_in(self, start: int, end: int, now: int) -> Iterator[int]:
        """Day indexes with usage whose start lies in [start, end]."""
        return self._starts(start, end, now, DAY)

    def _starts(self, start: int, end: int, now: int, unit: int) -> Iterator[int]:
        first = max(start, self.data_start(now))
        last = min(end, now)
        i = -(-first // unit)
        while i * unit <= last:
            yield i
            i += 1
