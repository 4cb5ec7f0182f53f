"""``vidgate spend``: the report (key aliases beside key ids), the rows and CSV."""

from __future__ import annotations

import csv
import time
from pathlib import Path

from tests.accounting.test_spend_gateway import insert_spend
from tests.cli.run import one_line_error, vidgate
from tests.support import Gateway


def test_spend_report_logs_and_csv(fresh_gateway: Gateway, tmp_path: Path) -> None:
    gw, now = fresh_gateway, time.time()
    base = {"provider": "openai", "key_id": "key_a"}
    insert_spend(
        gw.data_dir / "vidgate.db",
        [
            {**base, "model": "sora", "cost_usd": 0.4, "settled_at": now - 30},
            {**base, "model": "sora-pro", "cost_usd": 1.2, "settled_at": now - 20},
            {**base, "model": "sora", "key_id": "key_b", "cost_usd": 0.4, "settled_at": now - 10},
            {
                **base,
                "model": "sora",
                "status": "failed",
                "seconds": None,
                "cost_usd": 0.0,
                "settled_at": now - 5,
            },
        ],
    )
    env = {"VIDGATE_BASE_URL": gw.url, "VIDGATE_API_KEY": gw.master_key, "COLUMNS": "200"}
    result = vidgate("spend", env=env)  # --group-by model; base URL and key from the env
    assert result.returncode == 0, result.stderr
    cells = [line.replace("\u2502", " ").split() for line in result.stdout.splitlines()]
    rows = [row for row in cells if row and row[0] in ("sora", "sora-pro", "total")]
    assert rows == [
        ["sora-pro", "1", "1", "0", "4", "$1.2000"],
        ["sora", "3", "2", "1", "8", "$0.8000"],
        ["total", "4", "3", "1", "12", "$2.0000"],
    ]

    result = vidgate("spend", "--logs", "--key", "key_b", env=env)
    assert result.returncode == 0, result.stderr
    assert "video_synthetic_2" in result.stdout and "video_synthetic_0" not in result.stdout
    assert "total over the range: $0.4000" in result.stdout

    out = tmp_path / "by-key.csv"
    common = ["--base-url", gw.url, "--api-key", gw.master_key]
    result = vidgate(
        "spend", "--group-by", "key", "--start", "2020-01-01", "--csv", str(out), *common
    )
    assert result.returncode == 0, result.stderr
    with out.open(newline="") as handle:
        exported = list(csv.reader(handle))
    assert exported == [
        ["group", "jobs", "completed", "failed", "seconds", "cost_usd"],
        ["key_a", "3", "2", "1", "8.0", "1.6"],
        ["key_b", "1", "1", "0", "4.0", "0.4"],
    ]

    result = vidgate("spend", "--group-by", "week", *common)
    line = one_line_error(result, 1)
    assert "error 400" in line and "group_by" in line


def _cells(stdout: str) -> list[list[str]]:
    return [
        line.replace("\u2502", " ").replace("\u2503", " ").split() for line in stdout.splitlines()
    ]


def test_spend_by_key_shows_aliases(fresh_gateway: Gateway) -> None:
    gw, now = fresh_gateway, time.time()
    key = gw.new_key(key_alias="studio-a")
    with gw.http() as client:
        key_id = client.get("/key/info", params={"key": "studio-a"}).json()["key_id"]
    rows = [
        {"provider": "openai", "model": "sora", "key_id": key_id, "cost_usd": 0.4},
        {"provider": "openai", "model": "sora", "key_id": "key_gone", "cost_usd": 0.2},
    ]
    insert_spend(gw.data_dir / "vidgate.db", [{**r, "settled_at": now - 10} for r in rows])
    result = vidgate("spend", "--group-by", "key", "--base-url", gw.url, "--api-key", gw.master_key)
    assert result.returncode == 0, result.stderr
    table = _cells(result.stdout)
    assert ["key", "alias", "jobs", "completed", "failed", "seconds", "cost_usd"] in table
    assert [key_id, "studio-a", "1", "1", "0", "4", "$0.4000"] in table
    assert ["key_gone", "1", "1", "0", "4", "$0.2000"] in table  # no alias: an empty cell
    # a virtual key sees its own row, with its own alias
    result = vidgate("spend", "--group-by", "key", "--base-url", gw.url, "--api-key", key)
    assert result.returncode == 0, result.stderr
    assert [key_id, "studio-a", "1", "1", "0", "4", "$0.4000"] in _cells(result.stdout)
    assert "key_gone" not in result.stdout


def test_spend_csv_to_a_missing_folder(gateway: Gateway, tmp_path: Path) -> None:
    target = tmp_path / "nope" / "spend.csv"
    common = ["--base-url", gateway.url, "--api-key", gateway.master_key]
    line = one_line_error(vidgate("spend", "--csv", str(target), *common), 2)
    assert (
        line
        == f"error: --csv {target}: the folder {target.parent} does not exist (create it first)"
    )
