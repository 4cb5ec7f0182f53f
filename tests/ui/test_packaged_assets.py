"""Every console and API-docs asset ships in the wheel: the console works from a plain
``pip install .``, offline, with nothing fetched from a CDN."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PACKAGE = REPO / "src" / "vidgate"
ASSET_SUFFIXES = {".html", ".js", ".css", ".svg", ".png", ".map", ".txt", ".md", ".json"}


def assets() -> set[str]:
    """Every non-Python file under the console's and the API docs' asset folders."""
    found = set()
    for folder in (PACKAGE / "ui", PACKAGE / "api"):
        for path in folder.rglob("*"):
            if path.is_file() and (path.suffix in ASSET_SUFFIXES or path.name == "LICENSE"):
                found.add(str(path.relative_to(PACKAGE.parent)))
    return found


def test_the_wheel_carries_every_asset(tmp_path: Path) -> None:
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), str(REPO)],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert built.returncode == 0, built.stderr[-3000:]
    (wheel,) = tmp_path.glob("vidgate-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    expected = assets()
    assert any(name.endswith("ui/static/js/lib.js") for name in expected)
    missing = sorted(expected - names)
    assert not missing, f"not in the wheel (pyproject's package-data): {missing}"
