"""Devices, their reported states, and the names, tags and attributes of the devices of an
application."""

from __future__ import annotations

from collections.abc import Iterable

from .._call import Answer, Call
from .._query import tag_filter
from .._schema import JSON
from .._state import Device, iso
from ._base import SUCCESS, Area
from ._paging import paged, queried


class DeviceHandlers(Area):
    """Devices and their states."""

    def render_device(self, dev: Device, where: str) -> JSON:
        core = self._core(
            dev,
            "deviceId",
            applicationId=dev.app_id,
            name=dev.name,
            deviceClass=dev.device_class,
            tags=dev.tags,
            attributes=dev.attributes,
        )
        drop = ("deletedAt", "parentId", "gatewayId", "ancestorIds")
        return self._render(where, core, dev.extra, drop)

    def devices_list(self, call: Call) -> Answer:
        app = self._app(call)
        devices = list(self.state.devices(app).values())
        if call.flag("queryDeleted"):
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
        body = paged(
            call,
            devices,
            Device.value,
            lambda d: self.render_device(d, "devices.item"),
            {"applicationId": app.id},
        )
        return 200, body

    def device_create(self, call: Call) -> Answer:
        app = self._app(call)
        body = call.body_fields()
        now = self.state.clock()
        dev = Device(
            id=self.state.new_id("device"),
            app_id=app.id,
            name=str(body.get("name") or "New Device"),
            created=now,
            updated=now,
            device_class=str(body.get("deviceClass") or "standalone"),
            tags=list(body.get("tags") or []),
            attributes=list(body.get("attributes") or []),
            extra={k: v for k, v in body.items() if k not in Device.FIELDS},
        )
        self.state.devices(app)[dev.id] = dev
        self.state.touch()
        return call.action.success_status, self.render_device(dev, "device")

    def device(self, call: Call) -> Answer:
        """``device.get`` and ``.patch``."""
        return 200, self.render_device(self._patched(self._device(call), call), "device")

    def device_delete(self, call: Call) -> Answer:
        dev = self._device(call)
        del self.state.devices(self._app(call))[dev.id]
        self.state.touch()
        return 200, dict(SUCCESS)

    def _state_window(self, call: Call) -> tuple[int, int]:
        """[start, end] of a state query: ``start``/``end`` as for usage, or ``duration``
        ms up to ``end``, or ``since``; all states by default."""
        default = 0
        duration = call.q("duration")
        if duration is not None:
            default = -call.int("duration", 0)
        elif call.q("since") is not None:
            default = call.int("since", 0)
        start, end, _ = self.time_range(call, default)
        return start, end

    @staticmethod
    def _states_in(dev: Device, start: int, end: int) -> list[tuple[int, dict[str, JSON]]]:
        return [(t, s) for t, s in dev.states if start <= t <= end]

    def get_state(self, call: Call) -> Answer:
        """The reported states in the window, newest first unless asked otherwise."""
        states = self._states_in(self._device(call), *self._state_window(call))
        if str(call.q("sortDirection") or "desc").lower() == "desc":
            states.reverse()
        limit = call.int("limit", 1)
        return 200, [{**state, "time": iso(t)} for t, state in states[:limit]]

    def _composite(self, dev: Device, call: Call) -> dict[str, JSON]:
        """The latest value of each attribute (of those asked for) in the window."""
        wanted = call.names("attributes")
        out: dict[str, JSON] = {}
        for t, state in self._states_in(dev, *self._state_window(call)):
            for name, value in (state.get("data") or {}).items():
                if not wanted or name in wanted:
                    out[name] = {"value": value, "time": iso(t)}
        return out

    def get_composite_state(self, call: Call) -> Answer:
        return 200, self._composite(self._device(call), call)

    def devices_composite_state(self, call: Call) -> Answer:
        app = self._app(call)

        def render(dev: Device) -> JSON:
            core = {"id": dev.id, "name": dev.name, "compositeState": self._composite(dev, call)}
            return self._render("compositeDevicesState.item", core, {})

        devices = list(self.state.devices(app).values())
        body = paged(call, devices, Device.value, render, {"applicationId": app.id})
        return 200, body

    def _matching_devices(self, call: Call) -> list[Device]:
        devices = sorted(self.state.devices(self._app(call)).values(), key=lambda d: d.id)
        if call.q("query") is None:
            return devices
        return queried(call, devices, Device.value, lambda d: self.render_device(d, "device"))

    @staticmethod
    def _starting(call: Call, values: Iterable[str]) -> list[str]:
        """Distinct ``values`` starting with ``startsWith`` (any case), sorted; at most 1000."""
        prefix = str(call.q("startsWith") or "").casefold()
        return sorted({v for v in values if v.casefold().startswith(prefix)})[:1000]

    def device_names(self, call: Call) -> Answer:
        prefix = str(call.q("startsWith") or "").casefold()
        devices = [d for d in self._matching_devices(call) if d.name.casefold().startswith(prefix)]
        devices.sort(key=lambda d: (d.name, d.id))
        summary = [{"id": d.id, "deviceClass": d.device_class, "name": d.name} for d in devices]
        return 200, {"deviceSummary": summary[:1000]}

    def tag_keys(self, call: Call) -> Answer:
        keys = (t["key"] for d in self._matching_devices(call) for t in d.tags)
        return 200, {"tagKeys": self._starting(call, keys)}

    def tag_values(self, call: Call) -> Answer:
        key = call.q("key")
        tags = (t for d in self._matching_devices(call) for t in d.tags)
        values = self._starting(call, (t["value"] for t in tags if not key or t["key"] == key))
        return 200, ({"tagKey": key} if key else {}) | {"tagValues": values}

    def attribute_names(self, call: Call) -> Answer:
        kinds = call.q("dataType")
        kinds = {kinds} if isinstance(kinds, str) else set(kinds or ())
        attributes = (a for d in self._matching_devices(call) for a in d.attributes)
        names = (a["name"] for a in attributes if not kinds or a["dataType"] in kinds)
        return 200, {"attributeNames": self._starting(call, names)}
