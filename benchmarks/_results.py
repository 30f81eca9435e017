"""The results protocol shared by every benchmark: typed figures, paired rounds, the table.

Each ``bench_*.py`` module exposes ``results(quick, callgrind) -> list[Result]`` and runs
alone as a script; ``python -m benchmarks`` runs them all and renders one table.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any, Literal

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
START, END = "<!-- bench:start -->", "<!-- bench:end -->"

Direction = Literal["higher", "lower"]


@dataclass(frozen=True)
class Result:
    """One figure: ``value`` in ``unit``, met when on the ``direction`` side of ``goal``."""

    name: str
    value: float
    unit: str  # "x" for a ratio, "ms", "us/call", "instr/call"
    goal: float | None = None  # None: reported for information
    direction: Direction = "higher"
    notes: str = ""

    @property
    def met(self) -> bool | None:
        if self.goal is None:
            return None
        return self.value >= self.goal if self.direction == "higher" else self.value <= self.goal

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Result:
        return cls(**data)


def fmt(value: float, unit: str) -> str:
    if unit == "x":
        return f"{value:.2f}x"
    if unit == "instr/call":
        return f"{value:,.0f} instr/call"
    if abs(value) >= 100:
        return f"{value:,.0f} {unit}"
    return f"{value:.1f} {unit}"


def goal_text(r: Result) -> str:
    if r.goal is None:
        return "-"
    return f"{'>=' if r.direction == 'higher' else '<='} {fmt(r.goal, r.unit)}"


def met_text(r: Result) -> str:
    return {None: "-", True: "met", False: "**not met**"}[r.met]


# --- paired, alternating rounds --------------------------------------------------------------


def round_order(names: Sequence[str], round_no: int) -> list[str]:
    """A B C, then C B A, then A B C...: each contender runs early and late equally often."""
    return list(names) if round_no % 2 == 0 else list(reversed(names))


def paired(contenders: dict[str, Callable[[], float]], rounds: int) -> dict[str, list[float]]:
    """Per-round measurements (whatever each callable returns, e.g. seconds), alternating."""
    out: dict[str, list[float]] = {name: [] for name in contenders}
    for i in range(rounds):
        for name in round_order(list(contenders), i):
            out[name].append(contenders[name]())
    return out


async def paired_async(
    contenders: dict[str, Callable[[], Awaitable[float]]], rounds: int
) -> dict[str, list[float]]:
    """:func:`paired` for coroutines, all rounds in the running event loop."""
    out: dict[str, list[float]] = {name: [] for name in contenders}
    for i in range(rounds):
        for name in round_order(list(contenders), i):
            out[name].append(await contenders[name]())
    return out


def median_ratio(top: Sequence[float], bottom: Sequence[float]) -> float:
    """The median of the per-round ratios ``top[i] / bottom[i]``."""
    return statistics.median(t / b for t, b in zip(top, bottom, strict=True))


def spread(top: Sequence[float], bottom: Sequence[float]) -> str:
    """The range of the per-round ratios, for the notes."""
    ratios = [t / b for t, b in zip(top, bottom, strict=True)]
    if len(ratios) == 1:
        return "1 round"
    return f"{len(ratios)} rounds, {min(ratios):.2f}-{max(ratios):.2f}"


def child_env() -> dict[str, str]:
    """The environment for measured child processes: bytecode caching on, as users have it
    (with ``PYTHONDONTWRITEBYTECODE`` set, every fresh process would compile the package
    from source, and import and first-call figures would measure the compiler)."""
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def run_child(
    argv: Sequence[str], *, cwd: Path = ROOT, timeout: float
) -> subprocess.CompletedProcess[str]:
    """Run ``argv`` in the environment of :func:`child_env`, its output captured as text."""
    return subprocess.run(
        argv, cwd=cwd, env=child_env(), capture_output=True, text=True, timeout=timeout, check=False
    )


def run_python(code: str, *args: str, timeout: float = 300) -> str:
    """Run ``code`` in a fresh interpreter (``python -c``, :func:`child_env`) from the
    repository root; its stdout, or a RuntimeError with the end of its stderr."""
    done = run_child([sys.executable, "-c", code, *args], timeout=timeout)
    if done.returncode != 0:
        raise RuntimeError(f"child failed: {done.stderr[-3000:]}")
    return done.stdout


# --- instruction counts ----------------------------------------------------------------------


def callgrind_available() -> bool:
    return shutil.which("valgrind") is not None


def instructions(argv: Sequence[str], *, cwd: Path = ROOT, timeout: float = 1800) -> int:
    """Instructions (callgrind's Ir) executed by a whole process run under callgrind."""
    with tempfile.TemporaryDirectory() as tmp:
        argv = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={tmp}/out", *argv]
        done = run_child(argv, cwd=cwd, timeout=timeout)
    found = re.search(r"Collected\s*:\s*(\d+)", done.stderr)
    if done.returncode != 0 or found is None:
        raise RuntimeError(f"callgrind run failed ({done.returncode}): {done.stderr[-2000:]}")
    return int(found.group(1))


# --- the machine and the table ---------------------------------------------------------------


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "absent"


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine() -> dict[str, str]:
    return {
        "cpu": cpu_model(),
        "cores": str(os.cpu_count()),
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "aiohttp": _version("aiohttp"),
        "msgspec": _version("msgspec"),
        "anyio": _version("anyio"),
        "aiohttp-sse-client": _version("aiohttp-sse-client"),
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
    }


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render_markdown(
    results: Sequence[Result], info: dict[str, str], command: str, errors: Sequence[str] = ()
) -> str:
    """The README block (without its markers): machine, date, command, one row a figure."""
    versions = ", ".join(
        f"{k} {info[k]}" for k in ("aiohttp", "msgspec", "anyio", "aiohttp-sse-client")
    )
    lines = [
        f"Produced by `{command}` on {info['date']}: {info['cpu']}, {info['cores']} cores, "
        f"{info['os']}, Python {info['python']}, {versions}.",
        "",
        "| figure | measured | goal | met | how |",
        "| --- | --- | --- | --- | --- |",
    ]
    for r in results:
        lines.append(
            f"| {_cell(r.name)} | {fmt(r.value, r.unit)} | {goal_text(r)} | {met_text(r)} "
            f"| {_cell(r.notes)} |"
        )
    for error in errors:
        lines.append(f"| {_cell(error)} | crashed | - | **not met** | |")
    return "\n".join(lines)


def render_text(results: Sequence[Result]) -> str:
    rows = [(r.name, fmt(r.value, r.unit), goal_text(r), met_text(r).strip("*")) for r in results]
    widths = [max(len(row[i]) for row in rows) for i in range(4)] if rows else [0] * 4
    return "\n".join(
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in rows
    )


def replace_block(text: str, block: str) -> str:
    """``text`` with everything between the markers replaced by ``block``."""
    start, end = text.find(START), text.find(END)
    if start < 0 or end < start:
        raise ValueError(f"the README has no {START} ... {END} markers")
    return text[: start + len(START)] + "\n" + block + "\n" + text[end:]


# --- running a module alone ------------------------------------------------------------------


def script_main(
    doc: str | None, results: Callable[[bool, bool], list[Result]], argv: list[str] | None = None
) -> None:
    """``python benchmarks/bench_x.py [--quick] [--callgrind]``: run, then print the figures."""
    parser = argparse.ArgumentParser(description=(doc or "").strip().split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="a small run (as CI does)")
    parser.add_argument(
        "--callgrind", action="store_true", help="also count instructions (needs valgrind)"
    )
    args = parser.parse_args(argv)
    started = time.perf_counter()
    found = results(args.quick, args.callgrind)
    print(f"-- {len(found)} figures in {time.perf_counter() - started:.0f} s")
    print(render_text(found))
    sys.stdout.flush()
