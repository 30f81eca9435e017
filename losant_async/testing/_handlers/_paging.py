"""Lists of stored objects: sorting, ``filterField``/``filter`` and advanced ``query``
filters, then ``page``/``perPage`` or cursor (``startingAfterId``/``endingBeforeId``) paging."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from .._call import Call
from .._query import Getter, compile_query, glob_regex
from .._schema import JSON

R = TypeVar("R")


def sort_key(value: JSON) -> tuple[int, JSON]:
    """Nulls first, then numbers, then text."""
    if value is None:
        return (0, 0)
    if isinstance(value, bool | int | float):
        return (1, value)
    return (2, str(value))


def paged(
    call: Call,
    records: list[R],
    fields: Callable[[R, str], JSON],
    render: Callable[[R], JSON],
    extra_meta: dict[str, JSON] | None = None,
) -> JSON:
    """``page``/``perPage`` paging, sorting and filters."""
    records, meta = sorted_filtered(call, records, fields, render)
    page = max(0, call.int("page", 0))
    per_page = max(1, call.int("perPage", 100))
    window = records[page * per_page : (page + 1) * per_page]
    items = [render(r) for r in window]
    out: dict[str, JSON] = {
        "items": items,
        "count": len(items),
        "totalCount": len(records),
        "perPage": per_page,
        "page": page,
        **meta,
    }
    out.update(extra_meta or {})
    return out


def cursored(
    call: Call,
    records: list[R],
    fields: Callable[[R, str], JSON],
    render: Callable[[R], JSON],
) -> JSON:
    """``startingAfterId``/``endingBeforeId``/``limit`` paging."""
    records, meta = sorted_filtered(call, records, fields, render)
    limit = max(1, call.int("limit", 100))
    ids = [fields(r, "id") for r in records]
    after = call.q("startingAfterId")
    before = call.q("endingBeforeId")
    if after:
        if after not in ids:
            window, more = [], False
        else:
            i = ids.index(after) + 1
            window, more = records[i : i + limit], i + limit < len(records)
        meta["startingAfterId"] = after
    elif before:
        if before not in ids:
            window, more = [], False
        else:
            i = ids.index(before)
            first = max(0, i - limit)
            window, more = records[first:i], first > 0
        meta["endingBeforeId"] = before
    else:
        window, more = records[:limit], limit < len(records)
    items = [render(r) for r in window]
    return {"items": items, "count": len(items), "hasMore": more, "limit": limit, **meta}


def sorted_filtered(
    call: Call,
    records: list[R],
    fields: Callable[[R, str], JSON],
    render: Callable[[R], JSON],
) -> tuple[list[R], dict[str, JSON]]:
    """Sorted by ``sortField``/``sortDirection``; filtered by ``query`` when given, else
    by ``filterField``/``filter``."""
    sort_field = str(call.q("sortField") or "id")
    direction = str(call.q("sortDirection") or "asc")
    meta: dict[str, JSON] = {"sortField": sort_field, "sortDirection": direction}
    if call.q("query") is not None:
        records = queried(call, records, fields, render)
    else:
        filter_field = call.q("filterField")
        pattern = call.q("filter")
        if filter_field:
            meta["filterField"] = filter_field
        if pattern is not None:
            meta["filter"] = pattern
        if filter_field and pattern:
            rx = glob_regex(str(pattern))
            records = [r for r in records if rx.fullmatch(str(fields(r, filter_field) or ""))]
    records = sorted(
        records,
        key=lambda r: (sort_key(fields(r, sort_field)), fields(r, "id")),
        reverse=direction.lower() == "desc",
    )
    return records, meta


def queried(
    call: Call,
    records: list[R],
    fields: Callable[[R, str], JSON],
    render: Callable[[R], JSON],
) -> list[R]:
    """The records matching the advanced ``query``: stored fields are read directly,
    any other field is read from the record as answered."""
    match = compile_query(call.q("query"))

    def getter(record: R) -> Getter:
        rendered: list[JSON] = []

        def get(name: str) -> JSON:
            value = fields(record, name)
            if value is None:
                if not rendered:
                    rendered.append(render(record))
                answer = rendered[0]
                value = answer.get(name) if isinstance(answer, dict) else None
            return value

        return get

    return [r for r in records if match(getter(r))]
