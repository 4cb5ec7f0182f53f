"""A plain ``pip install .`` serves: the scale-out extra loads only when configured."""

from __future__ import annotations

import subprocess
import sys

from tests.support import child_serving

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


SERVE_WITHOUT_MEDIA = (
    "import sys\n"
    "for name in ('av', 'PIL'):\n"
    "    sys.modules[name] = None  # importing it now raises ImportError\n"
    + child_serving("create_app(settings)")
    + "for path in ('/health', '/v1/models', '/v1/videos'):\n"
    "    assert httpx.get(url + path, headers=auth).status_code == 200, path\n"
    "server.should_exit = True\n"
    "print('ok')\n"
)


def test_the_gateway_serves_without_loading_the_media_libraries() -> None:
    """PyAV and Pillow (~20 MiB resident with FFmpeg's libraries) load in the media workers
    only: a serving process that never decodes a video never maps them."""
    result = subprocess.run(
        [sys.executable, "-c", SERVE_WITHOUT_MEDIA],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0 and result.stdout.strip() == "ok", result.stderr[-2000:]


SERVE_AND_OPEN_THE_CONSOLE = (
    "import sys\n"
    "import vidgate.cli  # first, as in `vidgate serve`\n"
    + child_serving("create_app(settings, migrate_apart=True)")
    + "for path in ('/health', '/v1/models', '/v1/videos'):\n"
    "    assert httpx.get(url + path, headers=auth).status_code == 200, path\n"
    "print('before the console:', sorted(m for m in ('jinja2', 'pygments') if m in sys.modules))\n"
    "page = httpx.get(url + '/ui/signin')\n"
    "assert page.status_code == 200 and 'signin-form' in page.text, page.text[:500]\n"
    "print('after the console:', sorted(m for m in ('jinja2', 'pygments') if m in sys.modules))\n"
    "server.should_exit = True\n"
)


def test_the_console_loads_jinja2_at_its_first_page_and_httpx_s_own_cli_never() -> None:
    """A gateway whose console is not opened does without Jinja2 (~0.8 MiB resident), and
    no vidgate process loads httpx's command-line client (Pygments and more, ~2 MiB)."""
    result = subprocess.run(
        [sys.executable, "-c", SERVE_AND_OPEN_THE_CONSOLE],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.splitlines() == [
        "before the console: []",
        "after the console: ['jinja2']",
    ], result.stdout
