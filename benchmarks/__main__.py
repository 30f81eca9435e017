"""Run every benchmark and render one results table.

``python -m benchmarks [--quick] [--write-readme] [--callgrind] [--only NAME ...]``

Each ``benchmarks/bench_*.py`` runs in its own fresh process (one cannot disturb another's
figures, and a crash is caught and reported); each exposes ``results(quick, callgrind)``
returning :class:`~benchmarks._results.Result` figures. ``--write-readme`` writes the table
into README.md between ``<!-- bench:start -->`` and ``<!-- bench:end -->``. The exit
status is 1 when any benchmark crashed, whatever the figures (goals are reported, not
enforced).
"""

from __future__ import annotations

import argparse
import importlib
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks._results import (
    README,
    ROOT,
    Result,
    callgrind_available,
    child_env,
    machine,
    render_markdown,
    render_text,
    replace_block,
)

# The table's order; any other bench_*.py follows, by name.
ORDER = ("bench_calls", "bench_loading", "bench_sse", "bench_decode", "bench_server_start")


def modules() -> list[str]:
    found = sorted(p.stem for p in (ROOT / "benchmarks").glob("bench_*.py"))
    return [m for m in ORDER if m in found] + [m for m in found if m not in ORDER]


def child(name: str, out: Path, quick: bool, callgrind: bool) -> None:
    module = importlib.import_module(f"benchmarks.{name}")
    found: list[Result] = module.results(quick, callgrind)
    if not found or not all(isinstance(r, Result) for r in found):
        raise TypeError(f"{name}.results() must return a non-empty list of Result")
    print(render_text(found), flush=True)
    out.write_text(json.dumps([r.to_dict() for r in found]))


def run_one(name: str, quick: bool, callgrind: bool, timeout: float) -> list[Result]:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp, "results.json")
        argv = [sys.executable, "-m", "benchmarks", "--child", name, "--json", str(out)]
        argv += ["--quick"] * quick + ["--callgrind"] * callgrind
        done = subprocess.run(argv, cwd=ROOT, env=child_env(), timeout=timeout, check=False)
        if done.returncode != 0 or not out.exists():
            raise RuntimeError(f"exit status {done.returncode}")
        return [Result.from_dict(d) for d in json.loads(out.read_text())]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small runs (as CI does)")
    parser.add_argument("--write-readme", action="store_true", help="write the README table")
    parser.add_argument(
        "--callgrind", action="store_true", help="also count instructions (needs valgrind)"
    )
    parser.add_argument("--only", nargs="+", metavar="NAME", help="these bench_* modules only")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--json", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args.child, args.json, args.quick, args.callgrind)
        return 0
    if args.callgrind and not callgrind_available():
        parser.error("--callgrind needs valgrind on PATH")
    names = modules()
    if args.only:
        unknown = set(args.only) - set(names)
        if unknown:
            parser.error(f"no such benchmark: {', '.join(sorted(unknown))}")
        names = [n for n in names if n in args.only]
    command = " ".join(["python -m benchmarks", *(argv if argv is not None else sys.argv[1:])])
    info = machine()
    results: list[Result] = []
    errors: list[str] = []
    for name in names:
        print(f"== {name}", flush=True)
        started = time.perf_counter()
        try:
            results += run_one(name, args.quick, args.callgrind, 900 if args.quick else 3600)
        except (RuntimeError, subprocess.TimeoutExpired) as exc:
            errors.append(f"{name}: {exc}")
            print(f"!! {name} crashed: {exc}", flush=True)
        print(f"-- {name}: {time.perf_counter() - started:.0f} s", flush=True)
    table = render_markdown(results, info, command, errors)
    print("\n" + table)
    if args.write_readme:
        README.write_text(replace_block(README.read_text(), table))
        print(f"written to {README}")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
