"""Spend reporting through real HTTP: ``/spend/logs`` and ``/spend/report`` over jobs that
really settled (two keys, two models, completed and failed), as JSON and as CSV, with
filters, cursor pagination, owner scoping and 400s; day grouping and date bounds over rows
written at known instants."""

from __future__ import annotations

import csv
import io
import sqlite3
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support import Gateway, running_gateway, serve, wait_for
from vidgate.accounting.spend import Cursor, SpendFilter, SpendStore
from vidgate.db.engine import SQLiteDatabase, migrate
from vidgate.providers.openai import simulator as openai_sim

FIELDS = [
    "job_id",
    "key_id",
    "team_id",
    "user_id",
    "model",
    "provider",
    "deployment_id",
    "status",
    "seconds",
    "cost_usd",
    "priced",
    "created_at",
    "settled_at",
    "end_user",
]
REPORT_FIELDS = ["group", "jobs", "completed", "failed", "seconds", "cost_usd"]


@dataclass
class World:
    """A gateway whose spend log holds five settled jobs.

    key A (team ``studio``, user ``ann``): sora ok $0.40, sora-pro ok $1.20, sora failed;
    key B: sora ok $0.40, sora-pro failed. Total $2.00, 3 completed, 2 failed, 12 s.
    """

    gw: Gateway
    key_a: str
    key_b: str
    id_a: str
    id_b: str
    jobs: dict[str, str]  # job id -> owner key id


def _config(url: str) -> dict[str, Any]:
    base = {
        "provider": "openai",
        "api_base": f"{url}/v1",
        "api_key": "sk-spend",
        "poll_interval_s": 0.1,
    }
    return {
        "model_list": [
            {**base, "model_name": "sora", "model": "sora-2", "id": "sora-1"},
            {**base, "model_name": "sora-pro", "model": "sora-2-pro", "id": "pro-1"},
        ],
        "router": {"retry_backoff_s": 0},
    }


def key_id(gw: Gateway, key: str) -> str:
    with gw.http(key) as http:
        return str(http.get("/key/info").json()["key_id"])


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    sim_config = openai_sim.SimulatorConfig(
        api_key="sk-spend", job_seconds=0.2, queued_seconds=0.05, poll_after_ms=50
    )
    with (
        serve(openai_sim.create_app(sim_config)) as url,
        running_gateway(tmp_path_factory.mktemp("spend"), _config(url)) as gw,
    ):
        key_a = gw.new_key(team_id="studio", user_id="ann")
        key_b = gw.new_key()
        plan = [
            (key_a, "sora", "a kite"),
            (key_a, "sora-pro", "a boat"),
            (key_a, "sora", "[sim:fail] refused"),
            (key_b, "sora", "a bird"),
            (key_b, "sora-pro", "[sim:fail] refused"),
        ]

        def create(item: tuple[str, str, str]) -> str:
            key, model, prompt = item
            body = {"model": model, "prompt": prompt, "seconds": "4", "size": "1280x720"}
            with gw.http(key) as http:
                response = http.post("/v1/videos", json=body)
            assert response.status_code == 200, response.text
            return str(response.json()["id"])

        with ThreadPoolExecutor(len(plan)) as pool:
            ids = list(pool.map(create, plan))
        id_a, id_b = key_id(gw, key_a), key_id(gw, key_b)
        owners = {
            job: id_a if key == key_a else id_b for job, (key, _, _) in zip(ids, plan, strict=True)
        }
        wait_for(lambda: len(get(gw, "/spend/logs").json()["data"]) == len(plan))
        yield World(gw, key_a, key_b, id_a, id_b, owners)


def get(gw: Gateway, path: str, auth: str | None = None, **params: Any) -> httpx.Response:
    """GET ``path`` with the API key ``auth`` (default: the master key)."""
    with gw.http(auth) as http:
        return http.get(path, params=params)


def ok(gw: Gateway, path: str, auth: str | None = None, **params: Any) -> dict[str, Any]:
    response = get(gw, path, auth, **params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def logs(world: World, auth: str | None = None, **params: Any) -> dict[str, Any]:
    return ok(world.gw, "/spend/logs", auth, **params)


def report(world: World, auth: str | None = None, **params: Any) -> dict[str, Any]:
    return ok(world.gw, "/spend/report", auth, **params)


def test_logs_are_the_settled_jobs_newest_first(world: World) -> None:
    page = logs(world)
    assert page["object"] == "list" and page["has_more"] is False
    assert page["next_cursor"] is None and page["total_cost_usd"] == 2.0
    rows = page["data"]
    assert {r["job_id"]: r["key_id"] for r in rows} == world.jobs
    assert all(list(r) == FIELDS for r in rows)
    settled = [r["settled_at"] for r in rows]
    assert settled == sorted(settled, reverse=True)
    pro = next(r for r in rows if r["model"] == "sora-pro" and r["status"] == "completed")
    assert pro["cost_usd"] == 1.2 and pro["seconds"] == 4.0 and pro["priced"] is True
    assert (pro["key_id"], pro["team_id"], pro["user_id"]) == (world.id_a, "studio", "ann")
    assert (pro["provider"], pro["deployment_id"]) == ("openai", "pro-1")
    assert pro["created_at"] <= pro["settled_at"]
    failed = [r for r in rows if r["status"] == "failed"]
    assert len(failed) == 2 and all(r["cost_usd"] == 0.0 for r in failed)


def _day(settled_at: float) -> str:
    return datetime.fromtimestamp(settled_at, UTC).date().isoformat()


def _count_and_total(page: dict[str, Any]) -> tuple[int, float]:
    return len(page["data"]), page["total_cost_usd"]


def test_filters(world: World) -> None:
    rows = logs(world)["data"]
    day, last_day = _day(rows[-1]["settled_at"]), _day(rows[0]["settled_at"])
    cases: list[tuple[dict[str, Any], tuple[int, float]]] = [
        ({"key": world.id_a}, (3, 1.6)),
        ({"key": world.id_b}, (2, 0.4)),
        ({"model": "sora-pro"}, (2, 1.2)),
        ({"model": "sora"}, (3, 0.8)),
        ({"provider": "openai"}, (5, 2.0)),
        ({"provider": "kling"}, (0, 0.0)),
        ({"status": "failed"}, (2, 0.0)),
        ({"status": "completed", "key": world.id_b}, (1, 0.4)),
        ({"team_id": "studio"}, (3, 1.6)),
        ({"user_id": "ann", "model": "sora-pro"}, (1, 1.2)),
        ({"start": day}, (5, 2.0)),
        ({"start": day, "end": last_day}, (5, 2.0)),  # a date end covers its whole day
        ({"end": last_day, "start": "2020-01-01"}, (5, 2.0)),
        ({"end": "2020-01-01"}, (0, 0.0)),
        ({"start": f"{rows[0]['settled_at'] + 0.001!r}"}, (0, 0.0)),
        ({"start": f"{day}T00:00:00Z", "end": f"{last_day}T23:59:59.999999+00:00"}, (5, 2.0)),
        ({"start": f"{rows[0]['settled_at']!r}"}, (1, rows[0]["cost_usd"])),  # start inclusive
    ]
    for params, expected in cases:
        assert _count_and_total(logs(world, **params)) == expected, params


def test_cursor_pages_cover_every_row_once(world: World) -> None:
    for params, size in (({}, 2), ({"key": world.id_a}, 1), ({"status": "completed"}, 2)):
        seen: list[str] = []
        after: str | None = None
        while True:
            page = logs(world, limit=size, **params, **({"after": after} if after else {}))
            assert len(page["data"]) <= size
            seen += [r["job_id"] for r in page["data"]]
            assert page["total_cost_usd"] == logs(world, **params)["total_cost_usd"]
            if not page["has_more"]:
                assert page["next_cursor"] is None
                break
            after = page["next_cursor"]
        assert seen == [r["job_id"] for r in _all(world, params)]  # in order, each once


def _all(world: World, params: dict[str, Any]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = logs(world, **params)["data"]
    return rows


TOTALS = {"jobs": 5, "completed": 3, "failed": 2, "seconds": 12.0, "cost_usd": 2.0}


def _groups(body: dict[str, Any]) -> list[tuple[Any, ...]]:
    return [tuple(row[f] for f in REPORT_FIELDS) for row in body["rows"]]


def test_report_by_every_group(world: World) -> None:
    expected: dict[str, list[tuple[Any, ...]]] = {
        "key": [(world.id_a, 3, 2, 1, 8.0, 1.6), (world.id_b, 2, 1, 1, 4.0, 0.4)],
        "model": [("sora-pro", 2, 1, 1, 4.0, 1.2), ("sora", 3, 2, 1, 8.0, 0.8)],
        "provider": [("openai", 5, 3, 2, 12.0, 2.0)],
        "team": [("studio", 3, 2, 1, 8.0, 1.6), (None, 2, 1, 1, 4.0, 0.4)],
        "user": [("ann", 3, 2, 1, 8.0, 1.6), (None, 2, 1, 1, 4.0, 0.4)],
    }
    for group_by, rows in expected.items():
        body = report(world, group_by=group_by)
        assert body["object"] == "spend_report" and body["group_by"] == group_by
        assert (body["start"], body["end"]) == (None, None)
        assert _groups(body) == rows, group_by
        assert body["totals"] == TOTALS
    days = sorted({_day(r["settled_at"]) for r in _all(world, {})})
    by_day = report(world, group_by="day")
    assert [row["group"] for row in by_day["rows"]] == days  # one day, or two across midnight
    assert by_day["totals"] == TOTALS
    assert report(world)["group_by"] == "model"  # the default
    narrowed = report(world, group_by="model", key=world.id_b, status="completed")
    assert _groups(narrowed) == [("sora", 1, 1, 0, 4.0, 0.4)]
    assert narrowed["totals"] == {
        "jobs": 1,
        "completed": 1,
        "failed": 0,
        "seconds": 4.0,
        "cost_usd": 0.4,
    }


def _csv(response: httpx.Response, name: str) -> list[list[str]]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    disposition = response.headers["content-disposition"]
    assert disposition.startswith(f'attachment; filename="{name}') and disposition.endswith('.csv"')
    return list(csv.reader(io.StringIO(response.text)))


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def test_csv_matches_json(world: World) -> None:
    rows = logs(world)["data"]
    table = _csv(get(world.gw, "/spend/logs", format="csv"), "spend-logs")
    assert table[0] == FIELDS
    assert table[1:] == [[_text(r[f]) for f in FIELDS] for r in rows]
    with world.gw.http() as http:  # Accept: text/csv chooses CSV too
        accepted = http.get(
            "/spend/logs", params={"key": world.id_a, "limit": 2}, headers={"Accept": "text/csv"}
        )
    assert (
        _csv(accepted, "spend-logs")[1:]
        == [[_text(r[f]) for f in FIELDS] for r in rows if r["key_id"] == world.id_a][:2]
    )
    for group_by in ("key", "model", "day", "team"):
        body = report(world, group_by=group_by)
        table = _csv(
            get(world.gw, "/spend/report", group_by=group_by, format="csv"), "spend-report"
        )
        assert table[0] == REPORT_FIELDS
        assert table[1:] == [[_text(row[f]) for f in REPORT_FIELDS] for row in body["rows"]]
    assert (
        get(world.gw, "/spend/logs", format="json")
        .headers["content-type"]
        .startswith("application/json")
    )


def test_a_key_sees_only_its_own_spend(world: World) -> None:
    page = logs(world, world.key_b)
    assert {r["key_id"] for r in page["data"]} == {world.id_b}
    assert _count_and_total(page) == (2, 0.4)
    assert _count_and_total(logs(world, world.key_b, key=world.id_b)) == (2, 0.4)
    assert _count_and_total(logs(world, world.key_b, team_id="studio")) == (0, 0.0)
    assert _groups(report(world, world.key_b, group_by="key")) == [(world.id_b, 2, 1, 1, 4.0, 0.4)]
    assert report(world, world.key_a, group_by="model")["totals"]["cost_usd"] == 1.6
    for path in ("/spend/logs", "/spend/report"):
        denied = get(world.gw, path, world.key_b, key=world.id_a)
        assert denied.status_code == 403, denied.text
        assert denied.json()["error"]["param"] == "key"
        assert world.id_a not in str(denied.json()["error"]["message"])
    exported = _csv(get(world.gw, "/spend/logs", world.key_a, format="csv"), "spend-logs")
    assert {row[1] for row in exported[1:]} == {world.id_a} and len(exported) == 4
    with httpx.Client(base_url=world.gw.url) as anonymous:
        assert anonymous.get("/spend/logs").status_code == 401


def test_bad_parameters_are_400_naming_the_allowed_values(world: World) -> None:
    cases = [
        ("/spend/report", {"group_by": "week"}, "group_by", "key, model, provider, day, team"),
        ("/spend/report", {"format": "xml"}, "format", "json, csv"),
        ("/spend/logs", {"format": "xlsx"}, "format", "json, csv"),
        ("/spend/logs", {"status": "running"}, "status", "completed, failed"),
        ("/spend/logs", {"limit": "0"}, "limit", "1 to 1000"),
        ("/spend/logs", {"limit": "1001"}, "limit", "1 to 1000"),
        ("/spend/logs", {"limit": "ten"}, "limit", "1 to 1000"),
        ("/spend/logs", {"after": "not-a-cursor"}, "after", "next_cursor"),
        ("/spend/logs", {"start": "yesterday"}, "start", "ISO-8601"),
        ("/spend/report", {"end": "2026-13-45"}, "end", "Unix seconds"),
        ("/spend/logs", {"start": "2026-02-01", "end": "2026-01-01"}, "start", "before"),
        ("/spend/logs", {"key_id": "x"}, "key_id", "key, model, provider"),
    ]
    for path, params, param, allowed in cases:
        response = get(world.gw, path, **params)
        assert response.status_code == 400, (params, response.text)
        error = response.json()["error"]
        assert error["param"] == param and allowed in error["message"], (params, error)


def insert_spend(database: Path, rows: list[dict[str, Any]]) -> None:
    """Test setup: spend rows written straight into a gateway's SQLite file."""
    defaults = {
        "team_id": None,
        "user_id": None,
        "deployment_id": "dep",
        "status": "completed",
        "seconds": 4.0,
        "priced": 1,
    }
    with sqlite3.connect(database) as db:
        for i, row in enumerate(rows):
            values = {"job_id": f"video_synthetic_{i}", **defaults, **row}
            values.setdefault("created_at", values["settled_at"] - 30)
            columns = ", ".join(values)
            marks = ", ".join(f":{name}" for name in values)
            db.execute(f"INSERT INTO spend_logs ({columns}) VALUES ({marks})", values)


def at(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


def test_days_and_date_bounds(tmp_path: Path) -> None:
    config = {
        "model_list": [{"model_name": "local/preview", "provider": "local", "model": "preview"}],
        "settings": {"spend_log_retention_days": 100000},  # keep rows from 2025
    }
    with running_gateway(tmp_path / "gw", config, run_poller=False) as gw:
        common = {"key_id": "key_1", "model": "m1", "provider": "p1"}
        insert_spend(
            gw.data_dir / "vidgate.db",
            [
                {**common, "settled_at": at("2025-01-30T23:59:59"), "cost_usd": 1.0},
                {**common, "settled_at": at("2025-01-31T00:00:00"), "cost_usd": 2.0, "model": "m2"},
                {
                    **common,
                    "settled_at": at("2025-01-31T12:00:00"),
                    "cost_usd": 0.0,
                    "status": "failed",
                    "seconds": None,
                    "key_id": "key_2",
                },
                {
                    **common,
                    "settled_at": at("2025-02-02T08:00:00"),
                    "cost_usd": 4.0,
                    "provider": "p2",
                    "key_id": "key_2",
                },
            ],
        )
        by_day = ok(gw, "/spend/report", group_by="day")
        assert _groups(by_day) == [
            ("2025-01-30", 1, 1, 0, 4.0, 1.0),
            ("2025-01-31", 2, 1, 1, 4.0, 2.0),
            ("2025-02-02", 1, 1, 0, 4.0, 4.0),
        ]
        assert by_day["totals"] == {
            "jobs": 4,
            "completed": 3,
            "failed": 1,
            "seconds": 12.0,
            "cost_usd": 7.0,
        }
        assert _groups(ok(gw, "/spend/report", group_by="provider")) == [
            ("p2", 1, 1, 0, 4.0, 4.0),
            ("p1", 3, 2, 1, 8.0, 3.0),
        ]

        def total(**params: Any) -> tuple[int, float]:
            return _count_and_total(ok(gw, "/spend/logs", **params))

        assert total(start="2025-01-31", end="2025-01-31") == (2, 2.0)
        assert total(start="2025-01-31T00:00:00Z") == (3, 6.0)
        assert total(start="2025-01-31T01:00:00+01:00") == (3, 6.0)  # the same instant
        assert total(end=f"{at('2025-01-31T00:00:00'):.0f}") == (1, 1.0)  # end is exclusive
        assert total(end="2025-01-31T00:00:00.5") == (2, 3.0)
        window = ok(gw, "/spend/report", group_by="key", start="2025-01-31", end="2025-02-01")
        assert (window["start"], window["end"]) == (at("2025-01-31T00:00"), at("2025-02-02T00:00"))
        assert _groups(window) == [("key_1", 1, 1, 0, 4.0, 2.0), ("key_2", 1, 0, 1, 0.0, 0.0)]


async def test_export_streams_in_batches_and_honours_limit_and_cursor(tmp_path: Path) -> None:
    db = SQLiteDatabase(f"sqlite:///{tmp_path / 'spend.db'}")
    try:
        await migrate(db)
        now = time.time()
        rows = [{"key_id": "k", "model": "m", "provider": "p", "cost_usd": 0.5} for _ in range(7)]
        insert_spend(
            tmp_path / "spend.db", [{**r, "settled_at": now - i} for i, r in enumerate(rows)]
        )
        store = SpendStore(db)
        everything = [r["job_id"] for r in (await store.page(SpendFilter(), 100, None)).rows]
        batches = [b async for b in store.stream(SpendFilter(), batch=3)]
        assert [len(b) for b in batches] == [3, 3, 1]
        assert [r["job_id"] for b in batches for r in b] == everything
        limited = [b async for b in store.stream(SpendFilter(), limit=5, batch=3)]
        assert [len(b) for b in limited] == [3, 2]
        page = await store.page(SpendFilter(), 2, None)
        after = Cursor.decode(page.next_cursor or "")
        rest = [
            r["job_id"] for b in [b async for b in store.stream(SpendFilter(), after)] for r in b
        ]
        assert rest == everything[2:] and page.total_cost_usd == 3.5
    finally:
        await db.dispose()
