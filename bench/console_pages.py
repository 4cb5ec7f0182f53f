"""Console page timings with 100,000 jobs in the store, in headless Chromium.

    .venv/bin/python bench/console_pages.py [--jobs 100000] [--runs 5]

Starts ``vidgate serve`` (SQLite, the local renderer) in a temporary data dir, makes one
real completed job, stops, clones that row into ``--jobs`` jobs spread over five keys, four
models, every status, 90 days and varied prompts (one transaction, straight into SQLite;
each clone shares the first job's archived assets, so thumbnails load), starts again and
signs in to the console in Debian's Chromium (tests/ui/browser.py). Each timing is from the
action to the moment the page shows its answer (the table's rows, the video's metadata),
measured in the page with ``performance.now()``; the median of ``--runs`` is reported, with
the API call behind it timed alone over HTTP.
"""

from __future__ import annotations

import argparse
import json
import random
import secrets
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.support import start_vidgate, wait_for, write_config  # noqa: E402
from tests.ui.browser import chromium, shot  # noqa: E402

MODELS = ["local/preview", "sora-2", "veo-3", "kling-v2"]
PROVIDERS = {"local/preview": "local", "sora-2": "openai", "veo-3": "gemini", "kling-v2": "kling"}
STATUSES = ["completed"] * 7 + ["failed", "queued", "in_progress"]
WORDS = [
    "harbour", "desert", "neon", "forest", "city", "night", "rain",
    "ocean", "mountain", "kite", "fox", "train", "snow",
]  # fmt: skip
CONFIG = {
    "model_list": [{"model_name": "local/preview", "provider": "local", "model": "preview"}],
    "settings": {"local_workers": 1},
}
ROW = "#jobs-table tbody tr"
FORM = "document.querySelector('#filters')"
ROWS_SHOWN = f"document.querySelectorAll('{ROW}').length"


def seed(db: Path, count: int, keys: list[str]) -> None:
    connection = sqlite3.connect(db)
    connection.row_factory = sqlite3.Row
    template = dict(connection.execute("SELECT * FROM jobs LIMIT 1").fetchone())
    rng, now = random.Random(7), time.time()
    columns = [c for c in template if c != "seq"]
    rows = []
    for index in range(count):
        model, status = rng.choice(MODELS), rng.choice(STATUSES)
        created = now - 90 * 86400 * (1 - index / count)
        row = dict(template)
        row.update(
            id=f"video_{secrets.token_hex(16)}",
            owner_key_id=rng.choice(keys),
            model=model,
            provider=PROVIDERS[model],
            status=status,
            phase="done" if status in ("completed", "failed") else "running",
            progress=100 if status == "completed" else rng.randint(0, 90),
            prompt=" ".join(rng.choices(WORDS, k=6)) + f" #{index}",
            end_user=f"user-{rng.randint(1, 500)}",
            created_at=created,
            updated_at=created,
            cost_usd=round(rng.uniform(0, 2), 2) if status == "completed" else 0.0,
        )
        if status != "completed":
            row["assets"] = None
        if row["phase"] == "running":  # not polled while measuring: these are not real jobs
            row["next_poll_at"] = now + 30 * 86400
        rows.append(
            tuple(
                row[c] if not isinstance(row[c], (dict, list)) else json.dumps(row[c])
                for c in columns
            )
        )
    marks = ",".join("?" for _ in columns)
    with connection:
        connection.executemany(f"INSERT INTO jobs ({','.join(columns)}) VALUES ({marks})", rows)
    connection.close()


def timed(page: Any, action: str, ready: str) -> float:
    """Milliseconds from running ``action`` in the page to ``ready`` being true."""
    return float(
        page.evaluate(
            """async ([action, ready]) => {
              const start = performance.now();
              (0, eval)(action);
              while (!(0, eval)(ready)) await new Promise(r => requestAnimationFrame(r));
              return performance.now() - start;
            }""",
            [action, ready],
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    master = "sk-master-" + secrets.token_hex(8)
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp)
        config = write_config(data, CONFIG)
        process, url = start_vidgate(data, config, master)
        http = httpx.Client(
            base_url=url, headers={"authorization": f"Bearer {master}"}, timeout=120
        )
        made = [http.post("/key/generate", json={}).json() for _ in range(4)]
        keys = ["master"] + [key["key_id"] for key in made]
        body = {"model": "local/preview", "prompt": "seed", "size": "320x180", "seconds": "2"}
        first = http.post("/v1/videos", json=body).json()["id"]
        wait_for(lambda: http.get(f"/v1/videos/{first}").json()["status"] == "completed")
        process.terminate()
        process.wait(timeout=60)
        started = time.monotonic()
        seed(data / "vidgate.db", args.jobs, keys)
        print(f"seeded {args.jobs} jobs in {time.monotonic() - started:.1f} s", flush=True)
        process, url = start_vidgate(data, config, master)
        try:
            report(measure(url, master, args.runs, keys, made[0]["key"]))
        finally:
            process.terminate()
            process.wait(timeout=60)


def measure(
    url: str, master: str, runs: int, keys: list[str], virtual_key: str
) -> dict[str, list[float]]:
    results: dict[str, list[float]] = {}
    http = httpx.Client(base_url=url, headers={"authorization": f"Bearer {master}"}, timeout=120)
    first_id = http.get("/admin/jobs", params={"limit": 1}).json()["data"][0]["id"]
    api_calls = {
        "api: /admin/jobs (first page)": {},
        "api: /admin/jobs?status=failed&model=veo-3": {"status": "failed", "model": "veo-3"},
        "api: /admin/jobs?q=<prompt text>": {"q": "fox train"},
        "api: /admin/jobs?key_id=<key>": {"key_id": keys[1]},
        "api: /admin/jobs?q=<text in no prompt> (reads all rows)": {"q": "zebra crossing"},
        "api: /admin/jobs?q=<a video id>": {"q": first_id},
    }
    for name, params in api_calls.items():
        for _ in range(runs):
            start = time.perf_counter()
            assert http.get("/admin/jobs", params=params).status_code == 200
            results.setdefault(name, []).append((time.perf_counter() - start) * 1000)
    with chromium() as browser:
        context, page = _signed_in(browser, url, master)
        for _ in range(runs):
            start = time.perf_counter()
            page.goto("/ui/jobs")
            page.wait_for_function(f"{ROWS_SHOWN} === 50")
            results.setdefault("page: job list, first load", []).append(
                (time.perf_counter() - start) * 1000
            )
        shot(page, "jobs-100k")
        filters = {
            "page: filter status=failed + model=veo-3": (
                f"{FORM}.elements.status.value='failed';"
                f"{FORM}.elements.model.append(new Option('veo-3','veo-3'));"
                f"{FORM}.elements.model.value='veo-3';"
            ),
            "page: search prompt text": (f"{FORM}.elements.q.value='fox train';"),
        }
        for name, setup in filters.items():
            for _ in range(runs):
                page.goto("/ui/jobs")
                page.wait_for_function(f"{ROWS_SHOWN} === 50")
                page.evaluate(
                    f"document.querySelectorAll('{ROW}').forEach(tr => tr.dataset.marked = '1')"
                )
                action = setup + f"{FORM}.requestSubmit();"
                first, marked = f"document.querySelector('{ROW}')", f"'{ROW}[data-marked]'"
                fresh = f"{first} && !document.querySelector({marked})"
                elapsed = timed(page, action, fresh)
                results.setdefault(name, []).append(elapsed)
        detail = page.locator("#jobs-table tbody tr[data-status=completed]").first.get_attribute(
            "data-id"
        )
        for _ in range(runs):
            start = time.perf_counter()
            page.goto(f"/ui/jobs/{detail}")
            page.wait_for_function(
                "document.querySelector('video') && document.querySelector('video').readyState >= 1"
            )
            results.setdefault("page: job detail (video metadata loaded)", []).append(
                (time.perf_counter() - start) * 1000
            )
        shot(page, "job-100k")
        context.close()
        as_key, page = _signed_in(browser, url, virtual_key)
        for _ in range(runs):  # about a fifth of the store is this key's
            start = time.perf_counter()
            page.goto("/ui/jobs?status=completed")
            page.wait_for_function(f"{ROWS_SHOWN} === 50")
            results.setdefault("page: job list as a virtual key, status=completed", []).append(
                (time.perf_counter() - start) * 1000
            )
        as_key.close()
    return results


def _signed_in(browser: Any, url: str, key: str) -> tuple[Any, Any]:
    """A new browser context signed in to the console with ``key``, and its page."""
    context = browser.new_context(  # the timings evaluate strings, which CSP forbids
        base_url=url, viewport={"width": 1360, "height": 900}, bypass_csp=True
    )
    page = context.new_page()
    page.goto("/ui/signin")
    page.fill("#key", key)
    page.click("#signin-form button[type=submit]")
    page.wait_for_url(f"{url}/ui/jobs")
    return context, page


def report(results: dict[str, list[float]]) -> None:
    print("| what | median ms | max ms |")
    print("|---|---|---|")
    for name, values in results.items():
        print(f"| {name} | {statistics.median(values):.0f} | {max(values):.0f} |")


if __name__ == "__main__":
    main()
