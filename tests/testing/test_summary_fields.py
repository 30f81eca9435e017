"""``summaryInclude`` and ``summaryExclude`` on the answers that carry a summary: only the
fields named are built (all when none is named), less those excluded, each as it would be
in the full summary."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from losant_async import LosantClient
from losant_async.testing import FakeLosant

pytestmark = pytest.mark.anyio


def _first(items: list[Any] | None) -> Any:
    assert items, "an empty list"
    return items[0]


def _fields(summary: Any) -> dict[str, Any]:
    """The summary's fields that are present (None: left out of the answer)."""
    return {k: v for k, v in msgspec.structs.asdict(summary).items() if v is not None}


async def _summaries(
    server: FakeLosant, include: str | None = None, exclude: str | None = None
) -> dict[str, dict[str, Any]]:
    """The summaries of an application, an org and a sandbox from their lists and their
    own answers, asked with ``include`` and (where the action takes it) ``exclude``."""
    ids, inst = server.ids, server.ids.instance_id
    async with LosantClient(server.token, base_url=server.url) as client:
        apps = await client.applications.get(
            org_id=ids.org_id, summary_include=include, summary_exclude=exclude
        )
        app = await client.application.get(
            application_id=_first(apps.items).id, summary_include=include, summary_exclude=exclude
        )
        orgs = await client.instance_orgs.get(instance_id=inst, summary_include=include)
        org = await client.instance_org.get(
            instance_id=inst, org_id=ids.org_id, summary_include=include
        )
        boxes = await client.instance_sandboxes.get(
            instance_id=inst, summary_include=include, summary_exclude=exclude
        )
        box = await client.instance_sandbox.get(
            instance_id=inst,
            instance_sandbox_id=_first(boxes.items).id,
            summary_include=include,
            summary_exclude=exclude,
        )
    return {
        "applications.item": _fields(_first(apps.items).summary),
        "application": _fields(app.summary),
        "instanceOrgs.item": _fields(
            next(o for o in orgs.items or () if o.id == ids.org_id).summary
        ),
        "instanceOrg": _fields(org.summary),
        "instanceSandboxes.item": _fields(_first(boxes.items).summary),
        "instanceSandbox": _fields(box.summary),
    }


async def test_include_keeps_only_the_fields_named() -> None:
    async with FakeLosant("token", orgs=2, sandboxes=1, apps_per_org=2) as server:
        full = await _summaries(server)
        some = await _summaries(server, include="deviceCount, payloadCount")
    for where, fields in full.items():
        assert {"device_count", "payload_count"} <= fields.keys(), where
        assert len(fields) > 2, where
        assert some[where] == {k: fields[k] for k in ("device_count", "payload_count")}, where


async def test_exclude_drops_the_fields_named_and_keeps_the_rest() -> None:
    async with FakeLosant("token", orgs=2, sandboxes=1, apps_per_org=2) as server:
        full = await _summaries(server)
        less = await _summaries(server, exclude="payloadCount,deviceCount")
    for where in (
        "applications.item",
        "application",
        "instanceSandboxes.item",
        "instanceSandbox",
    ):
        expected = {
            k: v for k, v in full[where].items() if k not in ("device_count", "payload_count")
        }
        assert less[where] == expected, where
    # The org actions take no summaryExclude: their summaries are whole.
    assert less["instanceOrgs.item"] == full["instanceOrgs.item"]
    assert less["instanceOrg"] == full["instanceOrg"]


async def test_names_the_summary_does_not_have_leave_it_empty() -> None:
    async with FakeLosant("token", orgs=1, sandboxes=0, apps_per_org=1) as server:
        async with LosantClient(server.token, base_url=server.url) as client:
            apps = await client.applications.get(summary_include="noSuchCount")
    assert _fields(_first(apps.items).summary) == {}
