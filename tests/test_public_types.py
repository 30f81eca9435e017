"""Every type a public signature names can be imported from the package, and the two ways of
giving a rate limit mean the same limit."""

from __future__ import annotations

import builtins
import inspect
import re
import typing
from collections.abc import Callable
from typing import Any

import pytest

import losant_async
from losant_async import LosantClient, RateLimit, models, sse
from losant_async._generated.client import RESOURCES

# Names a signature may use that are not ours to export.
OUTSIDE = {
    *dir(builtins),
    *dir(typing),
    "aiohttp",
    "ClientSession",
    "Mapping",
    "Sequence",
    "AsyncIterator",
    "Awaitable",
    "Callable",
    "IO",
    "os",
    "PathLike",
    "datetime",
    "date",
    "timedelta",
    "Self",
    "TracebackType",
    "TracerProvider",  # OpenTelemetry's, for tracing=
    "T",
}


def names_in(fn: Callable[..., Any]) -> set[str]:
    """The identifiers in the (string) annotations of ``fn``'s parameters and return."""
    sig = inspect.signature(fn)
    annotations = [p.annotation for p in sig.parameters.values()] + [sig.return_annotation]
    texts = [str(a) for a in annotations if a is not inspect.Signature.empty]
    found: set[str] = set()
    for text in texts:
        text = re.sub(r"'[^']*'|\"[^\"]*\"", "", text)  # Literal[...] values
        for dotted in re.findall(r"[A-Za-z_][\w.]*", text):
            if dotted.startswith("models."):
                assert hasattr(models, dotted.removeprefix("models.")), dotted
                continue
            found.add(dotted.split(".")[-1])
    return found - OUTSIDE - {"None", "models"}


def public_callables() -> list[Callable[..., Any]]:
    fns: list[Callable[..., Any]] = [
        LosantClient.__init__,
        LosantClient.request,
        LosantClient.stream,
        losant_async.RetryPolicy,
        losant_async.Timeout,
        RateLimit,
    ]
    client = LosantClient("t", base_url="http://127.0.0.1:9")
    for name in RESOURCES:
        resource = getattr(client, name)
        for attr in dir(type(resource)):
            if not attr.startswith("_"):
                fns.append(getattr(type(resource), attr))
    return fns


def test_every_type_in_a_public_signature_is_exported() -> None:
    exported = set(losant_async.__all__) | set(sse.__all__)
    missing: dict[str, set[str]] = {}
    for fn in public_callables():
        unknown = names_in(fn) - exported
        if unknown:
            missing[getattr(fn, "__qualname__", repr(fn))] = unknown
    assert missing == {}
    for name in losant_async.__all__:
        assert getattr(losant_async, name) is not None


@pytest.mark.parametrize("rate", [0.5, 1, 20, 20.7, 1000])
def test_a_number_and_a_rate_limit_mean_the_same_limit(rate: float) -> None:
    by_number = LosantClient("t", base_url="http://127.0.0.1:9", rate_limit=rate)
    by_limit = LosantClient("t", base_url="http://127.0.0.1:9", rate_limit=RateLimit(rate))
    bucket, other = by_number._transport.bucket, by_limit._transport.bucket
    assert bucket is not None and other is not None
    assert bucket.limit == other.limit == RateLimit(rate, burst=max(1, int(rate)))


@pytest.mark.parametrize("bad", [0, -1, float("nan"), float("inf"), True, "20"])
def test_a_bad_rate_is_refused(bad: Any) -> None:
    with pytest.raises((TypeError, ValueError)):
        LosantClient("t", base_url="http://127.0.0.1:9", rate_limit=bad)
