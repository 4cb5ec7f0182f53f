"""``vidgate keys``: create with limits, info, update, list, revoke (master key)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import httpx

from tests.cli.run import one_line_error, vidgate
from tests.support import Gateway


def _row(stdout: str, first: str) -> list[str]:
    """The cells of the table row that starts with ``first``."""
    for line in stdout.splitlines():
        cells = [c.strip() for c in line.replace("\u2503", "\u2502").split("\u2502")]
        cells = [c for c in cells if c != ""]
        if cells and cells[0] == first:
            return cells
    raise AssertionError(f"no row {first!r} in:\n{stdout}")


def _field(stdout: str, name: str) -> str:
    for line in stdout.splitlines():
        if line.strip().startswith(name + " "):
            return line.strip()[len(name) :].strip()
    raise AssertionError(f"no field {name!r} in:\n{stdout}")


def test_keys_create_info_update_list_revoke(gateway: Gateway) -> None:
    common = ["--base-url", gateway.url, "--master-key", gateway.master_key]
    created = vidgate(
        "keys", "create", "--alias", "cli-key", "--model", "local/preview",
        "--budget", "25", "--budget-period", "30d", "--rpm", "12", "--max-parallel-jobs", "3",
        "--team", "studio", "--user", "ana", "--expires", "2999-01-31", *common,
    )  # fmt: skip
    assert created.returncode == 0, created.stderr
    record = json.loads(created.stdout)
    key, key_id = record["key"], record["key_id"]
    assert record["max_budget"] == 25.0 and record["budget_duration"] == "30d"
    assert (record["rpm_limit"], record["max_parallel_requests"]) == (12, 3)
    assert (record["team_id"], record["user_id"], record["models"]) == (
        "studio",
        "ana",
        ["local/preview"],
    )
    assert record["expires"] == int(datetime(2999, 1, 31, tzinfo=UTC).timestamp())
    headers = {"Authorization": f"Bearer {key}"}
    assert httpx.get(f"{gateway.url}/v1/videos", headers=headers).status_code == 200

    info = vidgate("keys", "info", "cli-key", *common)
    assert info.returncode == 0, info.stderr
    assert _field(info.stdout, "key_id") == key_id
    assert _field(info.stdout, "budget") == "$25.0000 per 30d"
    assert _field(info.stdout, "spend") == "$0.0000"
    assert _field(info.stdout, "rpm limit") == "12"
    assert _field(info.stdout, "max parallel jobs") == "3"
    assert _field(info.stdout, "expires (UTC)") == "2999-01-31 00:00"
    assert (_field(info.stdout, "team"), _field(info.stdout, "user")) == ("studio", "ana")
    as_json = json.loads(vidgate("keys", "info", key_id, "--json", *common).stdout)
    assert as_json["info"]["key_alias"] == "cli-key"
    # a key asks about itself
    own = vidgate("keys", "info", "--base-url", gateway.url, "--api-key", key)
    assert own.returncode == 0 and _field(own.stdout, "key_id") == key_id, own.stderr

    updated = vidgate(
        "keys", "update", "cli-key", "--budget", "40", "--rpm", "none", "--all-models",
        "--alias", "cli-key-2", "--expires", "none", *common,
    )  # fmt: skip
    assert updated.returncode == 0, updated.stderr
    assert _field(updated.stdout, "budget") == "$40.0000 per 30d"
    assert _field(updated.stdout, "rpm limit") == "-"
    assert _field(updated.stdout, "models") == "every model"
    assert _field(updated.stdout, "expires (UTC)") == "never"
    assert _field(updated.stdout, "alias") == "cli-key-2"
    assert _field(updated.stdout, "max parallel jobs") == "3"  # not named: unchanged

    listed = vidgate("keys", "list", *common)  # not a TTY: the table is never cut
    assert listed.returncode == 0, listed.stderr
    assert key not in listed.stdout
    row = _row(listed.stdout, key_id)
    today = datetime.now(UTC).strftime("%Y-%m-%d")
    assert row[1:3] == ["cli-key-2", record["key_hint"]]
    assert row[3] == "*" and row[4].startswith(today)
    assert row[5:10] == ["$40.0000 per 30d", "$0.0000", "3", "studio", "ana"]
    header = _row(listed.stdout, "key_id")
    assert header[:10] == [
        "key_id", "alias", "hint", "models", "created (UTC)", "expires (UTC)", "budget",
        "spend", "rpm", "jobs",
    ]  # fmt: skip

    revoked = vidgate("keys", "revoke", "cli-key-2", *common)
    assert revoked.returncode == 0 and key_id in revoked.stdout
    assert httpx.get(f"{gateway.url}/v1/videos", headers=headers).status_code == 401
    assert _row(vidgate("keys", "list", *common).stdout, key_id)[-1] == "yes"


def test_keys_options_are_checked(gateway: Gateway) -> None:
    common = ["--base-url", gateway.url, "--api-key", gateway.master_key]
    line = one_line_error(vidgate("keys", "create", "--budget", "lots", *common), 2)
    assert line == "error: --budget 'lots': give a number"
    line = one_line_error(vidgate("keys", "update", "x", "--rpm", "1.5", *common), 2)
    assert line == "error: --rpm '1.5': give a whole number or 'none' to remove it"
    line = one_line_error(vidgate("keys", "create", "--expires", "soon", *common), 2)
    assert "--expires" in line
    line = one_line_error(vidgate("keys", "update", "x", *common), 2)
    assert "nothing to change" in line
    line = one_line_error(vidgate("keys", "create", "--budget-period", "1w", *common), 1)
    assert "error 400" in line and "budget_duration" in line
    line = one_line_error(vidgate("keys", "info", "no-such-key", *common), 1)
    assert "error 404" in line


def test_keys_commands_take_the_master_key_over_an_exported_virtual_key(
    gateway: Gateway,
) -> None:
    """``VIDGATE_API_KEY`` may hold a virtual key exported for ``generate``; the keys commands
    need the master key and read ``VIDGATE_MASTER_KEY`` first."""
    virtual = gateway.new_key(alias="exported-for-generate")
    env = {"VIDGATE_API_KEY": virtual, "VIDGATE_MASTER_KEY": gateway.master_key}
    listed = vidgate("keys", "list", "--base-url", gateway.url, env=env)
    assert listed.returncode == 0, listed.stderr
    assert "exported-for-generate" in listed.stdout
