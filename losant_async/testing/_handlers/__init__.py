"""The stateful actions, one area per module, registered in one table.

An action in :data:`TABLE` is answered by its handler from the stored state; any other is
answered from its response schema by :class:`~losant_async.testing._generic.GenericResponder`.
To answer another action from the state, add a method to its area (or a new area on
:class:`~._base.Area`) and a line here.
"""

from __future__ import annotations

import asyncio

from .._bus import Bus
from .._generic import GenericResponder
from .._journal import Stats
from .._spec import Api
from .._state import State
from .._usage import Usage
from ._base import Context, Handler, check_ids
from .applications import ApplicationHandlers
from .devices import DeviceHandlers
from .orgs import OrgHandlers
from .sandboxes import SandboxHandlers
from .streams import StreamHandlers
from .usage import UsageHandlers

__all__ = ["Handler", "Handlers", "check_ids"]

_LEVELS = ("instance", "instanceOrg", "org", "instanceSandbox", "application", "me")


class Handlers:
    """Every area over one state, and :attr:`table`: action qualname -> handler."""

    def __init__(
        self,
        api: Api,
        state: State,
        generic: GenericResponder,
        bus: Bus,
        stats: Stats,
        closing: asyncio.Event,
    ) -> None:
        ctx = Context(state, generic, Usage(state))
        orgs = OrgHandlers(ctx)
        boxes = SandboxHandlers(ctx)
        apps = ApplicationHandlers(ctx)
        devices = DeviceHandlers(ctx)
        usage = UsageHandlers(ctx)
        self.streams = StreamHandlers(ctx, bus, stats, closing)
        streams = self.streams
        self.table: dict[str, Handler] = {
            # the instance and its user
            "instances.get": orgs.instances_list,
            "instance.get": orgs.instance,
            "instance.patch": orgs.instance,
            "instanceMembers.get": orgs.members_list,
            "me.get": orgs.me,
            "me.patch": orgs.me,
            # organisations
            "instanceOrgs.get": orgs.orgs_list,
            "orgs.get": orgs.orgs_list,
            "instanceOrgs.post": orgs.org_create,
            "orgs.post": orgs.org_create,
            "instanceOrg.get": orgs.org,
            "org.get": orgs.org,
            "instanceOrg.patch": orgs.org,
            "org.patch": orgs.org,
            "instanceOrg.delete": orgs.org_delete,
            "org.delete": orgs.org_delete,
            # sandboxes
            "instanceSandboxes.get": boxes.sandboxes_list,
            "instanceSandbox.get": boxes.sandbox_get,
            "instanceSandbox.delete": boxes.sandbox_delete,
            "instanceSandbox.undelete": boxes.sandbox_undelete,
            # applications
            "applications.get": apps.apps_list,
            "applications.post": apps.app_create,
            "application.get": apps.app,
            "application.patch": apps.app,
            "application.delete": apps.app_delete,
            # devices and their states
            "devices.get": devices.devices_list,
            "devices.post": devices.device_create,
            "device.get": devices.device,
            "device.patch": devices.device,
            "device.delete": devices.device_delete,
            "device.getState": devices.get_state,
            "device.getCompositeState": devices.get_composite_state,
            "devices.getCompositeState": devices.devices_composite_state,
            "devices.deviceNames": devices.device_names,
            "devices.tagKeys": devices.tag_keys,
            "devices.tagValues": devices.tag_values,
            "devices.attributeNames": devices.attribute_names,
            # usage
            **{f"{level}.payloadCounts": usage.payload_counts for level in _LEVELS},
            **{f"{level}.payloadCountsBreakdown": usage.payload_breakdown for level in _LEVELS},
            **{f"{level}.deviceCounts": usage.device_counts for level in _LEVELS},
            **{f"{level}.notebookMinuteCounts": usage.notebook_counts for level in _LEVELS},
            "device.payloadCounts": usage.device_payload_counts,
            "device.payloadCountsBreakdown": usage.device_payload_breakdown,
            "instance.historicalSummaries": usage.historical_summaries,
            "applications.periodSummaries": usage.period_summaries,
            # live data
            "application.mqttPublishMessage": streams.publish_message,
            "device.sendState": streams.send_state,
            "device.sendCommand": streams.send_command,
            "devices.sendCommand": streams.send_commands,
        }
        unknown = set(self.table) - set(api.actions)
        if unknown:  # a typo here would silently leave an action to the generic answer
            raise RuntimeError(f"handlers for unknown actions: {sorted(unknown)}")
