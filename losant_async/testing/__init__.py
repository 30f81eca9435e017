"""A local Losant API server for tests, driven by the API description the client is built from.

:class:`FakeLosant` serves all 375 actions of Losant API 1.30.0 on ``127.0.0.1``: it checks
routes, the bearer token and every param the way Losant does (404 ``NotFound``, 401
``Unauthorized``, 400 ``Validation`` naming the field), answers with bodies valid against
the response schemas (deterministic from the seed and the request path), and keeps state for
a seeded enterprise instance: the instance itself (the one ``GET /instances`` lists, with
the token's user as its admin and ``/me``), orgs, instance sandboxes, applications and
devices, with usage numbers that add up from applications to orgs and sandboxes to the
instance. Answers echo request fields only where the response schema declares them. Lists of
stored objects apply their filters (``filterField``/``filter``, ``tagFilter``, ``parentId``,
``deviceClass`` and advanced ``query`` objects) before paging; seeded devices carry the tags
``floor`` and ``zone``; paging params out of range get Losant's 400. Summaries
(``summary`` of orgs, sandboxes, applications and ``/me``, ``applications.periodSummaries``)
count the stored objects and their usage. MQTT publishing, device states and commands reach
the SSE streams; reported states are kept for ``getState`` and ``getCompositeState``.
Faults (latency, error statuses, dropped connections, truncated bodies, broken streams) can
be injected per action, and every request is kept in a journal.

A pytest test with the plugin's ``fake_losant`` fixture (see :mod:`.pytest_plugin`; the
same example as in the README, where a test runs it)::

    import pytest

    from losant_async import LosantClient
    from losant_async.testing import FakeLosant, Status


    @pytest.mark.anyio
    @pytest.mark.fake_losant(orgs=3, apps_per_org=2)
    async def test_lists_orgs(fake_losant: FakeLosant):
        server = fake_losant  # running on 127.0.0.1, closed after the test
        ids = server.ids
        async with LosantClient(server.token, base_url=server.url) as client:
            orgs = await client.instance_orgs.get(instance_id=ids.instance_id)
            assert orgs.total_count == 3

            server.faults.add(Status(503), action="instanceOrg.get", times=1)
            org = await client.instance_org.get(instance_id=ids.instance_id, org_id=ids.org_id)
            assert org.id == ids.org_id
        # The client retried the injected 503.
        assert [e.status for e in server.journal.for_action("instanceOrg.get")] == [503, 200]

``server.example_args("instanceOrg.get")`` gives valid arguments for any action, keyed by
the API's param names (``{"instanceId": ..., "orgId": ...}``).

From a shell, ``python -m losant_async.testing --port 8080`` serves until Ctrl-C
(``--help`` lists the options; ``--now 2026-01-01T00:00:00Z`` fixes the clock).

The surface:

- ``FakeLosant(token="test-token", *, seed=0, orgs=3, sandboxes=2, apps_per_org=2,
  devices_per_app=3, days=30, host="127.0.0.1", port=0, stream_ids=False,
  queue_size=1000, replay_size=1000, journal_limit=None, now=None)``; ``await start()``,
  ``await close()``, ``async with``; ``url``, ``token``.
- ``now``: the server's clock, an aware ``datetime``, epoch ms, or a callable returning
  either (read on every use); None is the machine's clock. Usage windows, timestamps of
  stored objects and stream events read it; ``clock()`` gives its reading in epoch ms.
  The journal's arrival times are the machine's (they measure the client).
- ``ids``: :class:`SeededIds` (lists ``org_ids``, ``sandbox_ids``, ``application_ids``,
  ``device_ids``; by owner ``org_application_ids``, ``sandbox_application_ids``,
  ``application_device_ids``; ``devices_of(app)``; ``instance_id``, and
  ``org_id``/``application_id``/... for the first).
- ``example_args(qualname)``: valid arguments for any action, keyed by API param names;
  :func:`encode_request` turns them into HTTP.
- ``publish(application_id, topic, message)``, ``send_state(...)``, ``send_command(...)``.
- pytest: the ``fake_losant`` fixture (a running server per test), its marker
  ``@pytest.mark.fake_losant(**options)`` and the ``fake_losant_options`` fixture
  (suite-wide defaults), from :mod:`losant_async.testing.pytest_plugin`.
- ``faults``: :class:`Faults` (``add(fault, *, action=None, times=None, rate=1.0)``,
  ``clear()``), the kinds each a class: :class:`Latency` (delay, jitter),
  :class:`Status` (status, retry_after, body, headers), :class:`Html` (status, body),
  :class:`ResetBefore`, :class:`ResetAfter`, :class:`Truncate`, :class:`StreamDrop`
  (every), :class:`StreamStall` (after, seconds); anything but a fault, an unknown action
  or a bad value is refused at once; ``journal``:
  :class:`Journal` of :class:`JournalEntry`; ``stats``: :class:`Stats` (``in_flight``,
  ``peak_in_flight``, ``open_streams``, ``dropped_events``).
"""

from . import _faults
from ._examples import HttpCall, SeededIds, encode_request
from ._faults import *  # noqa: F403  (the fault kinds, listed once in _faults.__all__)
from ._journal import Journal, JournalEntry, Stats
from ._server import FakeLosant

__all__ = [
    "FakeLosant",
    "HttpCall",
    "Journal",
    "JournalEntry",
    "SeededIds",
    "Stats",
    "encode_request",
]
__all__ += _faults.__all__
