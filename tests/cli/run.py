"""Running ``python -m vidgate`` as a user would, and what its errors must look like."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def vidgate(
    *args: str, env: dict[str, str] | None = None, cwd: Path | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """``vidgate ARGS`` in a process of its own (stdout and stderr captured, not a TTY)."""
    return subprocess.run(
        [sys.executable, "-m", "vidgate", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
        cwd=cwd,
    )


def one_line_error(result: subprocess.CompletedProcess[str], code: int | None = None) -> str:
    """The command failed (exit ``code``, or any non-zero) with one line on stderr and no
    traceback; that line."""
    assert "Traceback" not in result.stderr, result.stderr
    assert result.returncode != 0 if code is None else result.returncode == code, result
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]
