"""Auto-pagination for both list styles of the API.

- Numbered pages (``page``/``perPage``, answers with ``totalCount``): most lists. Once the
  first page gives the total, later pages are fetched ``concurrency`` at a time, and still
  come out in order.
- Cursors (``startingAfterId``/``limit``, answers with ``hasMore``): ``instanceSandboxes``.
  Each page names the next, so they are fetched one by one.

Both take a bound list coroutine and its keyword arguments::

    pages = numbered_pages(client.instance_orgs.get, {"instance_id": inst}, per_page=500)
    async for org in items(pages):
        ...

A walk ends on an empty page, on a page shorter than the page size, once the total (as
last reported: it may change mid-walk) is covered, or when a cursor page says there is no
more. An error fetching a page is raised, unchanged, after the pages before it were
yielded. Offset paging cannot see rows inserted or removed during a walk the way a
snapshot would: a concurrent change may shift an item across a page boundary.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Mapping, Sequence
from typing import Any, Protocol, TypeVar

import anyio

__all__ = [
    "DEFAULT_CONCURRENCY",
    "DEFAULT_PAGE_SIZE",
    "CursorPage",
    "HasId",
    "NumberedPage",
    "Page",
    "cursor_pages",
    "items",
    "numbered_pages",
]

DEFAULT_CONCURRENCY = 4
"""Numbered pages fetched at once (the client's own ``max_concurrency`` caps it too)."""
DEFAULT_PAGE_SIZE = 100
"""The API's default ``perPage`` and ``limit`` for almost every list."""

T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)


class Page(Protocol[T_co]):
    """Any list answer: its ``items``."""

    @property
    def items(self) -> Sequence[T_co] | None: ...


class NumberedPage(Page[T_co], Protocol[T_co]):
    """A ``page``/``perPage`` answer (``InstanceOrgs``, ``Applications``, ...)."""

    @property
    def total_count(self) -> int | None: ...


class CursorPage(Page[T_co], Protocol[T_co]):
    """A ``startingAfterId``/``limit`` answer (``InstanceSandboxes``)."""

    @property
    def has_more(self) -> bool | None: ...


class HasId(Protocol):
    """An item a cursor can point at."""

    @property
    def id(self) -> str | None: ...


NP = TypeVar("NP", bound=NumberedPage[Any])
CP = TypeVar("CP", bound=CursorPage[HasId])


def _positive(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise TypeError(f"{name} takes a positive int, not {type(value).__name__}")
    try:
        number = int(value)
    except ValueError:
        raise ValueError(f"{name} takes a positive int, not {value!r}") from None
    if number < 1:
        raise ValueError(f"{name} must be at least 1, not {number}")
    return number


def _option(given: Any, in_args: Any) -> Any:
    """The walk's own option, else the list call's argument, else the API's default."""
    if given is not None:
        return given
    return in_args if in_args is not None else DEFAULT_PAGE_SIZE


def _count(page: Page[Any]) -> int:
    return len(page.items or ())


async def numbered_pages(
    fetch: Callable[..., Awaitable[NP]],
    args: Mapping[str, Any] | None = None,
    *,
    per_page: int | None = None,
    first_page: int | None = None,
    concurrency: int = DEFAULT_CONCURRENCY,
) -> AsyncIterator[NP]:
    """Every page of a ``page``/``perPage`` list, in order, from ``args["page"]`` (0).

    ``per_page`` defaults to ``args["per_page"]``, else 100; the page size the server
    answers with (``perPage``, when it caps the one asked for) is the one relied on. Later
    pages are fetched up to ``concurrency`` at a time once the total is known.
    ``first_page``, a multiple of ``per_page``, sizes the first page alone: one large read
    (a whole small list in one round trip), then pages of ``per_page``.
    """
    call = dict(args or {})
    asked = _positive("per_page", _option(per_page, call.pop("per_page", None)))
    head = asked if first_page is None else _positive("first_page", first_page)
    if head % asked:
        raise ValueError(f"first_page must be a multiple of per_page ({asked}), not {head}")
    width = _positive("concurrency", concurrency)
    number = int(call.pop("page", 0) or 0)
    if number < 0:
        raise ValueError(f"page must be 0 or more, not {number}")

    first = await fetch(**call, page=number, per_page=head)
    yield first
    size = getattr(first, "per_page", None) or head
    if _count(first) < size:  # empty or short: the last page
        return
    total = first.total_count
    if size == head != asked:  # later pages of per_page, from where the first one ended
        number, size = (number + 1) * head // asked, asked
    else:  # one size throughout (the server's, when it capped the first page)
        asked, number = head, number + 1
    while True:
        if total is None:  # no total: one page at a time until a short one
            batch = [number]
        else:
            pages_left = -(-total // size) - number
            if pages_left <= 0:
                return
            batch = list(range(number, number + min(width, pages_left)))
        answers = await _fetch_batch(fetch, call, asked, batch)
        for answer in answers:
            if isinstance(answer, BaseException):
                raise answer
            yield answer
            if _count(answer) < size:
                return
            if answer.total_count is not None:  # the latest total rules
                total = answer.total_count
        number += len(batch)


async def _fetch_batch(
    fetch: Callable[..., Awaitable[NP]], call: dict[str, Any], per_page: int, batch: list[int]
) -> list[NP | Exception]:
    """The pages of ``batch``, fetched concurrently; a failed page holds its error, so that
    the pages before it are still yielded and the error is raised as it was (no group)."""
    answers: list[NP | Exception | None] = [None] * len(batch)

    async def one(slot: int, number: int) -> None:
        try:
            answers[slot] = await fetch(**call, page=number, per_page=per_page)
        except Exception as exc:
            answers[slot] = exc

    async with anyio.create_task_group() as tg:
        for slot, number in enumerate(batch):
            tg.start_soon(one, slot, number)
    return [a for a in answers if a is not None]


async def cursor_pages(
    fetch: Callable[..., Awaitable[CP]],
    args: Mapping[str, Any] | None = None,
    *,
    limit: int | None = None,
) -> AsyncIterator[CP]:
    """Every page of a ``startingAfterId``/``limit`` list, following ``hasMore``, from
    ``args["starting_after_id"]`` (the start) on.

    ``limit`` defaults to ``args["limit"]``, else 100. Without ``hasMore`` in an answer, a
    page shorter than the limit is the last.
    """
    call = dict(args or {})
    if call.get("ending_before_id") is not None:
        raise ValueError(
            "ending_before_id walks backwards; pagination walks forward from the start"
        )
    call.pop("ending_before_id", None)
    size = _positive("limit", _option(limit, call.pop("limit", None)))
    after: str | None = call.pop("starting_after_id", None)
    while True:
        if after is None:
            page = await fetch(**call, limit=size)
        else:
            page = await fetch(**call, limit=size, starting_after_id=after)
        yield page
        found = page.items or ()
        if not found:
            return
        more = page.has_more
        if not (more if more is not None else len(found) >= size):
            return
        last = found[-1].id
        if last is None or last == after:
            raise RuntimeError(f"the list's cursor did not advance (after {after!r})")
        after = last


async def items(pages: AsyncIterable[Page[T]]) -> AsyncIterator[T]:
    """The items of ``pages``, in order."""
    iterator = aiter(pages)
    try:
        async for page in iterator:
            for item in page.items or ():
                yield item
    finally:
        # Stopped early (break, error): close the page walk now, not whenever the
        # garbage collector gets to it.
        close = getattr(iterator, "aclose", None)
        if close is not None:
            await close()
