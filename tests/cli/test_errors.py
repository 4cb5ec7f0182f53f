"""Client commands never print a traceback: one line saying what is wrong and what to do."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.cli.run import one_line_error, vidgate
from tests.support import Gateway, free_port

CLIENT_COMMANDS = [
    ["generate", "a fox"],
    ["videos", "list"],
    ["videos", "get", "video_x"],
    ["videos", "download", "video_x"],
    ["videos", "delete", "video_x"],
    ["models"],
    ["spend"],
    ["spend", "--logs"],
    ["keys", "list"],
    ["keys", "info"],
    ["keys", "create", "--alias", "a"],
    ["keys", "update", "a", "--budget", "5"],
    ["keys", "revoke", "a"],
]


@pytest.mark.parametrize("command", CLIENT_COMMANDS, ids=" ".join)
def test_a_gateway_that_is_not_running(command: list[str]) -> None:
    port = free_port()
    result = vidgate(*command, "--base-url", f"http://127.0.0.1:{port}", "--api-key", "sk-x")
    assert one_line_error(result, 1) == (
        f"error: cannot reach the gateway at http://127.0.0.1:{port} (connection refused): "
        "start it with `vidgate serve` or pass --base-url (or set VIDGATE_BASE_URL)"
    )


def test_no_key_names_the_options_the_command_takes(tmp_path: Path) -> None:
    line = one_line_error(vidgate("keys", "list"), 2)
    assert "--api-key" in line and "VIDGATE_API_KEY" in line and "master_key" in line
    # keys commands take the key as --master-key and as --api-key, like every client command
    port = free_port()
    for option in ("--api-key", "--master-key"):
        for command in (["keys", "list"], ["models"]):
            result = vidgate(*command, option, "k", "--base-url", f"http://127.0.0.1:{port}")
            assert "cannot reach the gateway" in one_line_error(result, 1)


def test_a_bad_base_url() -> None:
    line = one_line_error(vidgate("models", "--base-url", "localhost:4000", "--api-key", "k"), 2)
    assert "--base-url" in line and "http://127.0.0.1:4000" in line


def test_the_master_key_from_the_data_dir(gateway: Gateway, tmp_path: Path) -> None:
    """Beside the gateway's data dir (./.vidgate), with --data-dir or VIDGATE_DATA_DIR, client
    commands need no key."""
    assert (gateway.data_dir / "master_key").read_text().strip() == gateway.master_key
    base = ["--base-url", gateway.url]
    result = vidgate("keys", "list", *base, "--data-dir", str(gateway.data_dir))
    assert result.returncode == 0, result.stderr
    result = vidgate("models", *base, env={"VIDGATE_DATA_DIR": str(gateway.data_dir)})
    assert result.returncode == 0 and "local/preview" in result.stdout, result.stderr
    beside = tmp_path / "project"
    (beside / ".vidgate").mkdir(parents=True)
    shutil.copy(gateway.data_dir / "master_key", beside / ".vidgate" / "master_key")
    result = vidgate("keys", "info", *base, cwd=beside)
    assert result.returncode == 0 and "master key" in result.stdout, result.stderr
    # a key given wins over the data dir's
    result = vidgate("keys", "list", *base, "--api-key", "sk-wrong", cwd=beside)
    assert "error 401" in one_line_error(result, 1)


def test_an_http_error_that_is_not_a_gateway(tmp_path: Path) -> None:
    """Something that is not HTTP at all on the port: one line, exit 1."""
    import socket
    import threading

    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        server.settimeout(120)  # a regression fails the test instead of hanging it
        port = server.getsockname()[1]

        def answer() -> None:
            conn, _ = server.accept()
            with conn:
                conn.recv(65536)
                conn.sendall(b"SSH-2.0-not-http\r\n")

        thread = threading.Thread(target=answer, daemon=True)
        thread.start()
        result = vidgate("models", "--base-url", f"http://127.0.0.1:{port}", "--api-key", "k")
        thread.join(timeout=120)
    line = one_line_error(result, 1)
    assert f"http://127.0.0.1:{port}" in line
