"""The README's pytest example for testing against the local server runs as written."""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
from pathlib import Path

import losant_async.testing

README = Path(__file__).resolve().parents[2] / "README.md"
FENCED = re.compile(r"```python\n(.*?)```", re.DOTALL)


def readme_example() -> str:
    blocks = [b for b in FENCED.findall(README.read_text()) if "FakeLosant" in b]
    assert len(blocks) == 1, "one README example uses FakeLosant"
    return str(blocks[0])


def test_readme_example_uses_the_documented_surface() -> None:
    code = readme_example()
    for needle in (
        "@pytest.mark.fake_losant(",
        "(fake_losant: FakeLosant)",
        "LosantClient(server.token, base_url=server.url)",
        "server.ids",
        "server.journal",
        "server.faults",
    ):
        assert needle in code


def test_package_docstring_shows_the_same_example() -> None:
    doc = losant_async.testing.__doc__ or ""
    start = doc.index("::\n\n") + 4
    end = doc.index("\n\n``", start)
    assert textwrap.dedent(doc[start:end]).strip() == readme_example().strip()


def test_readme_example_passes(tmp_path: Path) -> None:
    (tmp_path / "test_example.py").write_text(readme_example())
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_example.py"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 passed" in done.stdout
