"""Facts about the API description, committed as expectations.

Each list here is also derived from ``apiInfo.json`` by a test, so a change of the API
description shows up as a failing test; the generated code is checked against the same
lists.
"""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
# The API description: in the repository once it moves there, else beside the checkout.
API_DIRS = (ROOT / "codegen" / "losant-api", ROOT.parent / "shared" / "losant-api")


@cache
def api_info() -> dict[str, Any]:
    """``apiInfo.json``, from the first place that has it."""
    for folder in API_DIRS:
        path = folder / "apiInfo.json"
        if path.is_file():
            data: dict[str, Any] = json.loads(path.read_text())
            return data
    raise FileNotFoundError(f"apiInfo.json not found in any of {[str(d) for d in API_DIRS]}")


def query_params(resource: dict[str, Any], action: dict[str, Any]) -> list[dict[str, Any]]:
    """The query params of an action (resource-level params first, as the API lists them)."""
    params = [*resource.get("params", []), *action.get("params", [])]
    return [p for p in params if p.get("in") == "query"]


# A query param is a time when its description says so: "ms since epoch", "milliseconds
# since epoch", or (historicalSummaries' month) "Timestamp ...".
TIME_DESCRIPTION = re.compile(r"\b(ms|milliseconds) since (the )?epoch\b|^timestamp\b", re.I)

# Every query param the API documents as milliseconds since the epoch: (action, param).
TIME_PARAMS: tuple[tuple[str, str], ...] = (
    ("application.archiveData", "date"),
    ("application.deviceCounts", "start"),
    ("application.deviceCounts", "end"),
    ("application.importLogs", "since"),
    ("application.notebookMinuteCounts", "start"),
    ("application.notebookMinuteCounts", "end"),
    ("application.payloadCounts", "start"),
    ("application.payloadCounts", "end"),
    ("application.payloadCountsBreakdown", "start"),
    ("application.payloadCountsBreakdown", "end"),
    ("applications.periodSummaries", "start"),
    ("applications.periodSummaries", "end"),
    ("dashboard.validateContext", "end"),
    ("device.export", "start"),
    ("device.export", "end"),
    ("device.getCommand", "since"),
    ("device.getCommand", "start"),
    ("device.getCommand", "end"),
    ("device.getLogEntries", "since"),
    ("device.getLogEntries", "start"),
    ("device.getLogEntries", "end"),
    ("device.getState", "since"),
    ("device.getState", "start"),
    ("device.getState", "end"),
    ("device.payloadCounts", "start"),
    ("device.payloadCounts", "end"),
    ("device.payloadCountsBreakdown", "start"),
    ("device.payloadCountsBreakdown", "end"),
    ("device.removeData", "start"),
    ("device.removeData", "end"),
    ("experienceEndpoints.stats", "end"),
    ("flow.errors", "end"),
    ("flow.getLogEntries", "since"),
    ("flow.stats", "end"),
    ("flowVersion.errors", "end"),
    ("flowVersion.getLogEntries", "since"),
    ("flowVersion.stats", "end"),
    ("instance.deviceCounts", "start"),
    ("instance.deviceCounts", "end"),
    ("instance.historicalSummaries", "month"),
    ("instance.notebookMinuteCounts", "start"),
    ("instance.notebookMinuteCounts", "end"),
    ("instance.payloadCounts", "start"),
    ("instance.payloadCounts", "end"),
    ("instance.payloadCountsBreakdown", "start"),
    ("instance.payloadCountsBreakdown", "end"),
    ("instanceCustomNode.errors", "end"),
    ("instanceCustomNode.stats", "end"),
    ("instanceNotificationRule.logs", "since"),
    ("instanceOrg.deviceCounts", "start"),
    ("instanceOrg.deviceCounts", "end"),
    ("instanceOrg.notebookMinuteCounts", "start"),
    ("instanceOrg.notebookMinuteCounts", "end"),
    ("instanceOrg.payloadCounts", "start"),
    ("instanceOrg.payloadCounts", "end"),
    ("instanceOrg.payloadCountsBreakdown", "start"),
    ("instanceOrg.payloadCountsBreakdown", "end"),
    ("instanceSandbox.deviceCounts", "start"),
    ("instanceSandbox.deviceCounts", "end"),
    ("instanceSandbox.notebookMinuteCounts", "start"),
    ("instanceSandbox.notebookMinuteCounts", "end"),
    ("instanceSandbox.payloadCounts", "start"),
    ("instanceSandbox.payloadCounts", "end"),
    ("instanceSandbox.payloadCountsBreakdown", "start"),
    ("instanceSandbox.payloadCountsBreakdown", "end"),
    ("me.deviceCounts", "start"),
    ("me.deviceCounts", "end"),
    ("me.notebookMinuteCounts", "start"),
    ("me.notebookMinuteCounts", "end"),
    ("me.payloadCounts", "start"),
    ("me.payloadCounts", "end"),
    ("me.payloadCountsBreakdown", "start"),
    ("me.payloadCountsBreakdown", "end"),
    ("notebook.logs", "since"),
    ("notebook.notebookMinuteCounts", "start"),
    ("notebook.notebookMinuteCounts", "end"),
    ("org.deviceCounts", "start"),
    ("org.deviceCounts", "end"),
    ("org.notebookMinuteCounts", "start"),
    ("org.notebookMinuteCounts", "end"),
    ("org.payloadCounts", "start"),
    ("org.payloadCounts", "end"),
    ("org.payloadCountsBreakdown", "start"),
    ("org.payloadCountsBreakdown", "end"),
    ("resourceJob.logs", "since"),
)

# Documented defaults of time params that are not times: the generator sends nothing
# (the server's default) instead.
NON_TIME_DEFAULTS: dict[tuple[str, str], str] = {("instance.historicalSummaries", "month"): "now"}


def derive_time_params() -> list[tuple[str, str]]:
    """``TIME_PARAMS`` as read from ``apiInfo.json``."""
    found: list[tuple[str, str]] = []
    for res_name, resource in api_info().items():
        for act_name, action in resource["actions"].items():
            for param in query_params(resource, action):
                if TIME_DESCRIPTION.search(param.get("description") or ""):
                    found.append((f"{res_name}.{act_name}", param["name"]))
    return found
