"""Every script in examples/ runs to the end on the local Losant server (no token set)."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def run_example(name: str, cwd: Path) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOSANT_")}
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / name)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,  # a hang guard: each ends by itself on the local server
    )
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    return done.stdout


def test_every_example_is_tested() -> None:
    assert {p.name for p in EXAMPLES.glob("*.py")} == {
        "web_service.py",
        "mqtt_listener.py",
        "usage_scrape.py",
    }


def test_web_service_answers_each_request_through_one_client(tmp_path: Path) -> None:
    out = run_example("web_service.py", tmp_path)
    lines = [line for line in out.splitlines() if line.startswith("GET ")]
    assert len(lines) == 8
    assert sum(" -> 200 " in line and '"devices": 3' in line for line in lines) == 6
    assert any(" -> 404 " in line for line in lines)
    assert any(" -> 400 " in line for line in lines)


def test_mqtt_listener_rereads_the_state_after_a_gap(tmp_path: Path) -> None:
    out = run_example("mqtt_listener.py", tmp_path).splitlines()
    assert sum(line.startswith("plant/temp: ") for line in out) == 5
    gap = next(i for i, line in enumerate(out) if line.startswith("gap: stream closed"))
    assert out[gap + 1].startswith('state now: {"temp":{"value":21.5')
    assert out[-1] == "5 messages, 1 reconnects, 1 gaps"


def test_usage_scrape_writes_the_csv(tmp_path: Path) -> None:
    out = run_example("usage_scrape.py", tmp_path)
    with (tmp_path / "usage.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert f"wrote {len(rows)} rows to usage.csv" in out
    assert {r["resource_type"] for r in rows} == {"organization", "sandbox", "application"}
    assert not any(r["error"] for r in rows)
