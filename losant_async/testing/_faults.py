"""Seeded fault injection: latency, error statuses, broken connections and broken streams."""

from __future__ import annotations

import difflib
import random
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any

_OPTIONS: dict[str, dict[str, Any]] = {
    "latency": {"delay": 0.1, "jitter": 0.0},
    "status": {"status": 503, "retry_after": None, "body": None, "headers": None},
    "html": {"status": 502, "body": None},
    "reset_before": {},
    "reset_after": {},
    "truncate": {},
    "stream_drop": {"every": 1},
    "stream_stall": {"after": 0, "seconds": 5.0},
}
KINDS = tuple(_OPTIONS)
# Faults that replace the answer; at most one of them applies to a request.
TERMINAL = frozenset({"status", "html", "reset_before", "reset_after", "truncate"})
STREAM = frozenset({"stream_drop", "stream_stall"})

HTML_BODY = (
    "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    "<center><h1>502 Bad Gateway</h1></center>\r\n</body>\r\n</html>\r\n"
)


@dataclass(slots=True)
class FaultRule:
    """One rule: what to do (``kind`` with its ``opts``), to which action (None: all),
    how often (``rate``), and how many times at most (``times``, None: unlimited).
    ``hits`` counts the requests it was applied to."""

    kind: str
    action: str | None = None
    times: int | None = None
    rate: float = 1.0
    opts: dict[str, Any] = field(default_factory=dict)
    hits: int = 0

    @property
    def exhausted(self) -> bool:
        return self.times is not None and self.hits >= self.times

    def opt(self, name: str) -> Any:
        return self.opts.get(name, _OPTIONS[self.kind].get(name))


class Faults:
    """The fault rules of a server, applied in the order added.

    ``add("status", action="instanceOrg.get", times=2, status=503, retry_after="1")``;
    kinds: ``latency`` (delay, jitter seconds), ``status`` (status, retry_after, body,
    headers), ``html`` (status, body: an HTML error page), ``reset_before`` (drop the
    connection before reading the body), ``reset_after`` (read the request, then drop the
    connection), ``truncate`` (declare the full Content-Length, send half, close),
    ``stream_drop`` (every=N: close an SSE connection after N events), ``stream_stall``
    (after=N events, send nothing for ``seconds``).
    """

    def __init__(self, seed: int = 0, actions: Collection[str] = ()) -> None:
        self.rules: list[FaultRule] = []
        self._rng = random.Random(f"faults:{seed}")
        self._actions = frozenset(actions)  # the qualnames a rule may name (empty: any)

    def add(
        self,
        kind: str,
        *,
        action: str | None = None,
        times: int | None = None,
        rate: float = 1.0,
        **opts: Any,
    ) -> FaultRule:
        """Add a rule and return it (its ``hits`` count the requests it affected)."""
        if kind not in _OPTIONS:
            raise ValueError(f"unknown fault kind {kind!r}; expected one of {', '.join(KINDS)}")
        unknown = set(opts) - set(_OPTIONS[kind])
        if unknown:
            raise TypeError(f"fault {kind!r} takes no option(s) {', '.join(sorted(unknown))}")
        if action is not None and self._actions and action not in self._actions:
            near = difflib.get_close_matches(action, self._actions, n=3)
            hint = f"; did you mean {', '.join(near)}?" if near else ""
            raise ValueError(f"unknown action {action!r}{hint}")
        if not 0.0 <= rate <= 1.0:
            raise ValueError("rate must be between 0 and 1")
        rule = FaultRule(kind, action, times, rate, dict(opts))
        self.rules.append(rule)
        return rule

    def clear(self) -> None:
        """Remove every rule."""
        self.rules.clear()

    def _fires(self, rule: FaultRule, qualname: str | None) -> bool:
        if rule.exhausted or (rule.action is not None and rule.action != qualname):
            return False
        if rule.rate < 1.0 and self._rng.random() >= rule.rate:
            return False
        rule.hits += 1
        return True

    def for_request(self, qualname: str | None) -> tuple[float, FaultRule | None]:
        """Seconds of added latency and the one answer-replacing fault, if any."""
        delay = 0.0
        terminal: FaultRule | None = None
        for rule in self.rules:
            if rule.kind == "latency":
                if self._fires(rule, qualname):
                    jitter = float(rule.opt("jitter"))
                    delay += float(rule.opt("delay")) + self._rng.uniform(0.0, jitter)
            elif rule.kind in TERMINAL and terminal is None and self._fires(rule, qualname):
                terminal = rule
        return delay, terminal

    def for_stream(self, qualname: str) -> list[FaultRule]:
        """The stream faults that apply to a new SSE connection."""
        return [r for r in self.rules if r.kind in STREAM and self._fires(r, qualname)]
