"""What the server saw: a journal of requests and a few counters."""

from __future__ import annotations

from dataclasses import dataclass, field

from multidict import CIMultiDict, CIMultiDictProxy


@dataclass(slots=True)
class JournalEntry:
    """One request as received.

    ``path`` is the raw path; ``query`` the decoded (key, value) pairs in order;
    ``status`` the status sent (0 while in flight and for aborted connections);
    ``response`` the body sent (whole, even when a fault truncated it; empty for
    streams); ``time`` the arrival time (``time.time()``, the machine's clock even when the
    server's is fixed).
    """

    method: str
    path: str
    query: list[tuple[str, str]]
    raw_query: str
    headers: CIMultiDictProxy[str]
    body: bytes = b""
    action: str | None = None
    status: int = 0
    response: bytes = b""
    time: float = 0.0
    path_params: dict[str, str] = field(default_factory=dict)

    def query_dict(self) -> dict[str, str]:
        """The query as a dict (the last value of a repeated key wins)."""
        return dict(self.query)


class Journal(list[JournalEntry]):
    """The requests received, oldest first. A plain list with a few helpers."""

    def for_action(self, qualname: str) -> list[JournalEntry]:
        """The entries of one action (``"instanceOrg.get"``)."""
        return [e for e in self if e.action == qualname]

    def last(self, qualname: str | None = None) -> JournalEntry:
        """The latest entry (of ``qualname`` if given); IndexError if there is none."""
        entries = self if qualname is None else self.for_action(qualname)
        return entries[-1]


def freeze_headers(headers: CIMultiDictProxy[str] | CIMultiDict[str]) -> CIMultiDictProxy[str]:
    return CIMultiDictProxy(CIMultiDict(headers))


@dataclass(slots=True)
class Stats:
    """Counters: ``in_flight`` / ``peak_in_flight`` count concurrent non-stream requests;
    ``open_streams`` the SSE connections; ``dropped_events`` the events a slow subscriber
    missed because its queue was full."""

    requests: int = 0
    in_flight: int = 0
    peak_in_flight: int = 0
    open_streams: int = 0
    peak_open_streams: int = 0
    dropped_events: int = 0

    def reset_peaks(self) -> None:
        self.peak_in_flight = self.in_flight
        self.peak_open_streams = self.open_streams
