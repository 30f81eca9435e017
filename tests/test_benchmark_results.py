"""The benchmarks' results protocol: figures judged against goals, paired ratios, the table."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from benchmarks._results import (
    END,
    START,
    Result,
    median_ratio,
    paired,
    render_markdown,
    replace_block,
    round_order,
)

README = Path(__file__).resolve().parents[1] / "README.md"
INFO = {
    "cpu": "Test CPU",
    "cores": "2",
    "os": "Linux",
    "python": "3.11.7",
    "aiohttp": "3.9",
    "msgspec": "0.18",
    "anyio": "4.0",
    "aiohttp-sse-client": "0.2.1",
    "date": "2024-01-01 00:00 UTC",
}


def test_met_follows_the_direction() -> None:
    assert Result("a", 0.96, "x", 0.95, "higher").met is True
    assert Result("a", 0.94, "x", 0.95, "higher").met is False
    assert Result("a", 19.0, "ms", 20.0, "lower").met is True
    assert Result("a", 21.0, "ms", 20.0, "lower").met is False
    assert Result("a", 3.0, "x").met is None


def test_result_round_trips_through_a_dict() -> None:
    r = Result("calls", 0.8, "x", 0.95, "higher", "11 rounds")
    assert Result.from_dict(r.to_dict()) == r


def test_rounds_alternate_the_order() -> None:
    assert [round_order(["a", "b"], i) for i in range(3)] == [["a", "b"], ["b", "a"], ["a", "b"]]
    seen: list[str] = []

    def contender(name: str, value: float) -> Callable[[], float]:
        def run() -> float:
            seen.append(name)
            return value

        return run

    out = paired({"a": contender("a", 1.0), "b": contender("b", 2.0)}, 2)
    assert seen == ["a", "b", "b", "a"]
    assert out == {"a": [1.0, 1.0], "b": [2.0, 2.0]}


def test_median_of_per_round_ratios() -> None:
    # Not the ratio of medians: round 3 is slow for both and must not skew the figure.
    assert median_ratio([1.0, 2.0, 10.0], [2.0, 2.0, 5.0]) == 1.0
    with pytest.raises(ValueError):
        median_ratio([1.0], [1.0, 2.0])


def test_table_has_machine_command_and_a_row_per_figure() -> None:
    rows = [
        Result("calls throughput", 0.8, "x", 0.95, "higher", "11 rounds"),
        Result("first call", 12.0, "ms", 20.0, "lower"),
        Result("decode", 4.5, "x"),
    ]
    table = render_markdown(rows, INFO, "python -m benchmarks", ["bench_x: exit status 1"])
    assert "Test CPU, 2 cores" in table and "`python -m benchmarks`" in table
    assert "2024-01-01 00:00 UTC" in table and "msgspec 0.18" in table
    lines = table.splitlines()
    assert "| calls throughput | 0.80x | >= 0.95x | **not met** | 11 rounds |" in lines
    assert "| first call | 12.0 ms | <= 20.0 ms | met |  |" in lines
    assert "| decode | 4.50x | - | - |  |" in lines
    assert "| bench_x: exit status 1 | crashed | - | **not met** | |" in lines


def test_block_replaced_between_the_markers_only() -> None:
    text = f"intro\n{START}\nold table\n{END}\noutro\n"
    once = replace_block(text, "new table")
    assert once == f"intro\n{START}\nnew table\n{END}\noutro\n"
    assert replace_block(once, "new table") == once
    with pytest.raises(ValueError):
        replace_block("no markers here", "table")


def test_readme_has_the_markers_once() -> None:
    text = README.read_text()
    assert text.count(START) == 1 and text.count(END) == 1
    assert text.index(START) < text.index(END)
