"""The concurrency limiter (free slot without waiting, arrival order, cancellation) and
the per-call pieces the transport builds once (timeouts)."""

from __future__ import annotations

import asyncio

import pytest

from losant_async import LosantClient, Timeout
from losant_async._limits import ConcurrencyLimiter

pytestmark = pytest.mark.anyio


async def _queue(limiter: ConcurrencyLimiter, order: list[str], name: str) -> None:
    await limiter.acquire()
    order.append(name)


async def test_a_free_slot_is_taken_without_waiting() -> None:
    limiter = ConcurrencyLimiter(2)
    assert limiter.try_acquire() and limiter.try_acquire()
    assert not limiter.try_acquire()
    limiter.release()
    assert limiter.try_acquire()
    # acquire() on a free slot finishes in one step: the coroutine never suspends.
    limiter.release()
    step = limiter.acquire().__await__()
    with pytest.raises(StopIteration):
        next(step)


async def test_waiters_are_served_in_arrival_order_and_newcomers_queue() -> None:
    limiter = ConcurrencyLimiter(1)
    assert limiter.try_acquire()
    order: list[str] = []
    tasks = [asyncio.create_task(_queue(limiter, order, n)) for n in "abc"]
    await asyncio.sleep(0)
    assert limiter.waiting == 3 and order == []
    for expected in (["a"], ["a", "b"], ["a", "b", "c"]):
        limiter.release()
        # The slot went to the longest waiter: a newcomer cannot take it meanwhile.
        assert not limiter.try_acquire()
        await asyncio.sleep(0)
        assert order == expected
    await asyncio.gather(*tasks)
    limiter.release()
    assert limiter.try_acquire()  # every slot came back


async def _two_waiters() -> tuple[
    ConcurrencyLimiter, list[str], asyncio.Task[None], asyncio.Task[None]
]:
    """A one-slot limiter whose slot is taken, with waiters "a" then "b" queued on it."""
    limiter = ConcurrencyLimiter(1)
    assert limiter.try_acquire()
    order: list[str] = []
    a = asyncio.create_task(_queue(limiter, order, "a"))
    b = asyncio.create_task(_queue(limiter, order, "b"))
    await asyncio.sleep(0)
    return limiter, order, a, b


async def test_a_cancelled_waiter_leaves_the_queue() -> None:
    limiter, order, a, b = await _two_waiters()
    a.cancel()
    with pytest.raises(asyncio.CancelledError):
        await a
    assert limiter.waiting == 1
    limiter.release()
    await b
    assert order == ["b"]
    limiter.release()
    assert limiter.try_acquire() and not limiter.try_acquire()


async def test_a_slot_handed_to_a_waiter_cancelled_before_it_ran_passes_on() -> None:
    limiter, order, a, b = await _two_waiters()
    limiter.release()  # handed to "a" ...
    a.cancel()  # ... which is cancelled before it runs
    with pytest.raises(asyncio.CancelledError):
        await a
    await b
    assert order == ["b"]
    limiter.release()
    assert limiter.try_acquire() and not limiter.try_acquire()  # no slot lost or won


def test_per_call_timeouts_are_built_once_and_still_checked() -> None:
    t = LosantClient("tok", timeout=Timeout(total=7, connect=2))._transport
    assert t.client_timeout(3) is t.client_timeout(3.0)
    assert (t.client_timeout(3).total, t.client_timeout(3).connect) == (3, 2)
    custom = Timeout(total=None, connect=1)
    assert t.client_timeout(custom) is t.client_timeout(Timeout(total=None, connect=1))
    # True == 1 and hashes alike: the cached 1-second timeout must not answer it.
    assert t.client_timeout(1).total == 1
    with pytest.raises(TypeError):
        t.client_timeout(True)
    with pytest.raises(ValueError):
        t.client_timeout(0)
