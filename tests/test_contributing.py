"""CONTRIBUTING.md's "where does X live" table names real paths, and every hand-written
module of the package."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GENERATED = ROOT / "losant_async" / "_generated"


def table_paths() -> list[str]:
    """The paths in the Module(s) column of the table's rows."""
    text = (ROOT / "CONTRIBUTING.md").read_text()
    section = text.split("## Where does X live", 1)[1].split("\n## ", 1)[0]
    paths: list[str] = []
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if not line.startswith("|") or len(cells) != 3 or set(cells[1]) <= {"-"}:
            continue
        if cells[1] == "Module(s)":
            continue
        named = re.findall(r"`([^`]+)`", cells[1])
        assert named, f"a row without a module: {line}"
        paths += named
    return paths


def hand_written_modules() -> list[str]:
    return sorted(
        p.relative_to(ROOT).as_posix()
        for p in (ROOT / "losant_async").rglob("*.py")
        if not p.is_relative_to(GENERATED)
    )


def test_the_table_has_rows() -> None:
    # One row per concern: dozens, not a handful picked up by a broken parse.
    assert len(table_paths()) > 60


def test_every_path_in_the_table_exists() -> None:
    missing = [p for p in table_paths() if not (ROOT / p).exists()]
    assert missing == []


def test_every_hand_written_module_is_in_the_table() -> None:
    named = set(table_paths())
    assert [m for m in hand_written_modules() if m not in named] == []
