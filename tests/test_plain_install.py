"""A plain ``pip install .`` serves: the scale-out extra loads only when configured."""

from __future__ import annotations

import subprocess
import sys

BLOCK_EXTRAS = (
    "import sys\n"
    "for name in ('redis', 'asyncpg', 'aiobotocore', 'botocore', 'boto3'):\n"
    "    sys.modules[name] = None  # importing it now raises ImportError, as when absent\n"
    "from vidgate.app import create_app\n"
    "from vidgate.cli import app\n"
    "from vidgate.settings import build_settings\n"
    "import tempfile, pathlib\n"
    "create_app(build_settings(data_dir=pathlib.Path(tempfile.mkdtemp())))\n"
    "print('ok')\n"
)


def test_the_gateway_builds_without_the_scaleout_extra() -> None:
    result = subprocess.run(
        [sys.executable, "-c", BLOCK_EXTRAS], capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0 and result.stdout.strip() == "ok", result.stderr[-2000:]
