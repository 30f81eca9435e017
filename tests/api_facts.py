"""Facts about the API description, committed as expectations.

Each list here is also derived from ``apiInfo.json`` by a test, so a change of the API
description shows up as a failing test; the generated code is checked against the same
lists.
"""

from __future__ import annotations

import importlib
import json
import re
import typing
from functools import cache
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
# The API description: in the repository once it moves there, else beside the checkout.
API_DIRS = (ROOT / "codegen" / "losant-api", ROOT.parent / "shared" / "losant-api")


def _read(name: str) -> dict[str, Any]:
    """A file of the API description, from the first place that has it."""
    for folder in API_DIRS:
        path = folder / name
        if path.is_file():
            data: dict[str, Any] = json.loads(path.read_text())
            return data
    raise FileNotFoundError(f"{name} not found in any of {[str(d) for d in API_DIRS]}")


@cache
def api_info() -> dict[str, Any]:
    """``apiInfo.json``."""
    return _read("apiInfo.json")


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


# Every list action by its pagination style: (action, style, page model, item model).
# "page": ``page``/``perPage`` answered with ``totalCount``; "cursor":
# ``startingAfterId``/``limit`` answered with ``hasMore``. (instanceAuditLogs' items are
# typed as the collection itself: so the API description has it.)
_LIST_ACTIONS = """
applicationApiTokens.get               page    ApiTokens                          ApiToken
applicationCertificateAuthorities.get  page    ApplicationCertificateAuthorities  ApplicationCertificateAuthority
applicationCertificates.get            page    ApplicationCertificates            ApplicationCertificate
applicationDashboards.get              page    Dashboards                         Dashboard
applicationJobLogs.get                 page    ApplicationJobLogs                 ApplicationJobLog
applicationKeys.get                    page    ApplicationKeys                    ApplicationKey
applicationTemplates.get               page    ApplicationTemplates               ApplicationTemplate
applications.get                       page    Applications                       Application
applications.periodSummaries           page    PeriodSummaries                    PeriodSummary
auditLogs.get                          page    AuditLogs                          AuditLog
credentials.get                        page    Credentials                        Credential
dashboards.get                         page    Dashboards                         Dashboard
dataTables.get                         page    DataTables                         DataTable
deviceRecipes.get                      page    DeviceRecipes                      DeviceRecipe
devices.get                            page    Devices                            Device
devices.getCompositeState              page    CompositeDevicesState              CompositeDevicesStateItem
edgeDeployments.get                    page    EdgeDeployments                    EdgeDeployment
embeddedDeployments.get                page    EmbeddedDeployments                EmbeddedDeployment
events.get                             page    Events                             Event
experienceGroups.get                   page    ExperienceGroups                   ExperienceGroup
experienceUsers.get                    page    ExperienceUsers                    ExperienceUser
experienceVersions.get                 page    ExperienceVersions                 ExperienceVersion
experienceViews.get                    page    ExperienceViews                    ExperienceView
files.get                              page    Files                              File
flowVersions.get                       page    FlowVersions                       FlowVersion
flows.get                              page    Flows                              Flow
flows.getByVersion                     page    FlowVersions                       FlowVersion
instance.historicalSummaries           page    HistoricalSummaries                HistoricalSummariesItem
instanceAuditLogs.get                  page    InstanceAuditLogs                  InstanceAuditLogs
instanceCustomNodes.get                page    InstanceCustomNodes                InstanceCustomNode
instanceNotificationRules.get          page    NotificationRules                  NotificationRule
instanceOrgs.get                       page    InstanceOrgs                       InstanceOrg
instanceSandboxes.get                  cursor  InstanceSandboxes                  InstanceSandbox
instances.get                          page    Instances                          Instance
integrations.get                       page    Integrations                       Integration
notebooks.get                          page    Notebooks                          Notebook
orgs.get                               page    Orgs                               Org
privateFiles.get                       page    Files                              File
resourceJobs.get                       page    ResourceJobs                       ResourceJob
userOauthTokens.get                    page    UserOauthTokens                    UserOauthToken
webhooks.get                           page    Webhooks                           Webhook
"""  # noqa: E501 (one row a line)
LIST_ACTIONS: tuple[tuple[str, str, str, str], ...] = tuple(
    (action, style, page, item)
    for action, style, page, item in (line.split() for line in _LIST_ACTIONS.strip().splitlines())
)

# Actions with paging-like params that neither style can walk, and why.
NOT_PAGINATED: dict[str, str] = {
    "instanceApiTokens.get": "answers with a single apiToken, not a collection",
    "userApiTokens.get": "answers with a single apiToken, not a collection",
    "dataTableRows.get": "offset/limit paging",
    "dataTableRows.query": "offset/limit paging (POST)",
}


def _schema(name: str) -> dict[str, Any]:
    return _read(f"schemas/{name}.json")


def _generated_action(resource: str, action: str) -> Any:
    from codegen.naming import snake
    from losant_async._action import Action

    module = importlib.import_module(f"losant_async._generated.resources.{snake(resource)}")
    (found,) = [a for a in vars(module).values() if isinstance(a, Action) and a.name == action]
    return found


def derive_list_actions() -> tuple[list[tuple[str, str, str, str]], list[str]]:
    """``LIST_ACTIONS`` as read from ``apiInfo.json`` and the generated models, and the
    actions with some paging param that fit neither style."""
    from losant_async import models

    found: list[tuple[str, str, str, str]] = []
    neither: list[str] = []
    paging = {"page", "perPage", "startingAfterId", "endingBeforeId", "offset"}
    for res_name, resource in api_info().items():
        for act_name, action in resource["actions"].items():
            names = {p["name"] for p in query_params(resource, action)}
            ref = action["responses"].get("200", {}).get("schema", {}).get("$ref", "")
            props = set(_schema(ref.split("/")[-1]).get("properties", {})) if ref else set()
            qualname = f"{res_name}.{act_name}"
            if {"page", "perPage"} <= names and {"items", "totalCount"} <= props:
                style = "page"
            elif {"startingAfterId", "limit"} <= names and {"items", "hasMore"} <= props:
                style = "cursor"
            else:
                if names & paging:
                    neither.append(qualname)
                continue
            page_model = _generated_action(res_name, act_name).responses[200]
            hint = typing.get_type_hints(getattr(models, page_model))["items"]
            (listed, _none) = typing.get_args(hint)
            (item,) = typing.get_args(listed)
            found.append((qualname, style, page_model, item.__name__))
    return found, neither
