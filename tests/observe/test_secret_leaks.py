"""No upstream secret reaches a client, the database or the logs; signed URLs log unsigned.

The realistic leak is an upstream that quotes the deployment's API key back — in a refused
create, in a failed job's reason, in a failed poll — and a gateway that passes the text on
to every surface that shows it, and to the rows it stores. The gateway here is ``vidgate
serve`` as a subprocess, so its log output is exactly what an operator's pipeline receives
(the ``httpx`` INFO lines included); the upstreams are real simulators on loopback, one of
them behind a wrapper that makes it quote the key.
"""

from __future__ import annotations

import json
import re
import secrets
import sqlite3
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tests.routing.faults import Fault, Faults, openai_error
from tests.support import serve, start_vidgate, wait_for
from tests.webhooks.receiver import Receiver
from vidgate.errors import UpstreamError, client_text
from vidgate.providers.minimax import simulator as minimax_sim
from vidgate.providers.openai import simulator as openai_sim
from vidgate.redact import REDACTED, REDACTOR, Redactor

DEP_KEY = "dep-" + secrets.token_hex(20)  # not key-shaped: only the known-secret rule finds it
MINIMAX_KEY = "mm-" + secrets.token_hex(20)
MASTER = "sk-vg-master-" + secrets.token_hex(12)
LEAK = f"Request with API key {DEP_KEY} refused (Authorization: {DEP_KEY})"
VIDEO = {"model": "sora", "prompt": "a kite", "size": "1280x720", "seconds": "4"}
AS_SENT = {"model": "sora", "prompt": "a kite", "size": "1280x720", "duration": 4}
SURFACES = {"/v1/videos": VIDEO, "/v2/video/generations": AS_SENT, "/v1/video/generations": AS_SENT}


class Quoting:
    """Makes the simulator quote the key: a job whose prompt says ``[leak:fail]`` fails with
    the key in its reason; one that says ``[leak:poll]`` answers every poll with a 500 that
    quotes it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "GET" or "/content" in scope["path"]:
            await self.app(scope, receive, send)
            return
        start: Message = {}
        chunks: list[bytes] = []

        async def keep(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                start = message
            else:
                chunks.append(message.get("body", b""))

        await self.app(scope, receive, keep)
        status, body = start["status"], b"".join(chunks)
        video = _json(body)
        prompt = str(video.get("prompt") or "")
        if "[leak:poll]" in prompt:
            status = 500
            body = json.dumps({"error": {"message": LEAK, "type": "server_error"}}).encode()
        elif "[leak:fail]" in prompt and video.get("status") == "failed":
            video["error"] = {"code": "moderation_blocked", "message": LEAK}
            body = json.dumps(video).encode()
        headers = [(k, v) for k, v in start["headers"] if k.lower() != b"content-length"]
        headers.append((b"content-length", str(len(body)).encode()))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})


def _json(body: bytes) -> dict[str, Any]:
    try:
        value = json.loads(body)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


@dataclass
class Served:
    url: str
    data_dir: Path
    log: Path
    faults: Faults
    receiver: Receiver

    def http(self, key: str = MASTER) -> httpx.Client:
        headers = {"Authorization": f"Bearer {key}"}
        return httpx.Client(base_url=self.url, headers=headers, timeout=30)

    def new_key(self) -> str:
        with self.http() as http:
            response = http.post("/key/generate", json={})
        assert response.status_code == 200, response.text
        return str(response.json()["key"])

    def logs(self) -> str:
        return self.log.read_text()


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    config = openai_sim.SimulatorConfig(
        api_key=DEP_KEY, job_seconds=0.3, queued_seconds=0.05, poll_after_ms=50
    )
    faults = Faults(openai_sim.create_app(config), r"/v1/videos")
    minimax = minimax_sim.create_app(
        minimax_sim.SimulatorConfig(api_key=MINIMAX_KEY, job_seconds=0.3, queued_seconds=0.05)
    )
    receiver = Receiver()
    root = tmp_path_factory.mktemp("leaks")
    with serve(Quoting(faults)) as upstream, serve(minimax) as mm, serve(receiver.app) as hooks:
        receiver.base_url = hooks
        sora: dict[str, Any] = {"provider": "openai", "model": "sora-2"}
        sora |= {"api_base": f"{upstream}/v1"}
        sora |= {"model_name": "sora", "api_key": DEP_KEY, "poll_interval_s": 0.1}
        hailuo: dict[str, Any] = {"model_name": "hailuo", "provider": "minimax"}
        hailuo |= {"model": "MiniMax-Hailuo-2.3"}
        hailuo |= {"api_base": mm, "api_key": MINIMAX_KEY, "poll_interval_s": 0.1}
        gateway_config = {
            "model_list": [{**sora, "id": "a"}, {**sora, "id": "b"}, hailuo],
            "router": {"num_retries": 1, "retry_backoff_s": 0.01, "cooldown": {"enabled": False}},
            "settings": {
                "max_poll_failures": 2,
                "outbound_allow": ["127.0.0.1/32"],  # the webhook receiver
                "webhooks": {"timeout_s": 2, "max_attempts": 3, "backoff_s": 0.05},
            },
        }
        config_path = root / "vidgate.yaml"  # outside the data dir: the key is in this file
        config_path.write_text(yaml.safe_dump(gateway_config))
        with _vidgate_serve(root / "data", config_path, root / "stderr.log") as url:
            yield Served(url, root / "data", root / "stderr.log", faults, receiver)


@pytest.fixture
def clean_faults(served: Served) -> Iterator[Faults]:
    served.faults.reset()
    yield served.faults
    served.faults.reset()


class _Started:
    def __init__(self, proc: subprocess.Popen[bytes], url: str) -> None:
        self.proc, self.url = proc, url

    def __enter__(self) -> str:
        return self.url

    def __exit__(self, *_: object) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=30)


def _vidgate_serve(data_dir: Path, config: Path, log: Path) -> _Started:
    """``vidgate serve`` in a subprocess, its stderr (the logs) to ``log``."""
    return _Started(*start_vidgate(data_dir, config, MASTER, log=log))


def _terminal(served: Served, key: str, video_id: str) -> dict[str, Any]:
    def done() -> dict[str, Any] | None:
        with served.http(key) as http:
            video: dict[str, Any] = http.get(f"/v1/videos/{video_id}").json()
        return video if video["status"] in ("completed", "failed") else None

    result: dict[str, Any] = wait_for(done, timeout=60)
    return result


def _logged_404s(served: Served) -> int:
    with sqlite3.connect(served.data_dir / "vidgate.db") as db:
        query = "SELECT count(*) FROM request_logs WHERE status_code = 404"
        return int(db.execute(query).fetchone()[0])


def _created(response: httpx.Response) -> str:
    assert response.status_code == 200, response.text
    return str(response.json()["id"])


def test_an_upstream_quoting_the_key_never_shows_it(served: Served, clean_faults: Faults) -> None:
    key = served.new_key()
    hook = served.receiver.new_path()
    seen: dict[str, str] = {}  # every place checked -> its text
    with served.http(key) as http:
        registered = http.post("/v1/webhooks", json={"url": served.receiver.url(hook)})
        assert registered.status_code == 200, registered.text
        for path, body in SURFACES.items():  # a 4xx quoting the key, on every create surface
            clean_faults.set(replace(openai_error(400, LEAK, "invalid_value"), times=1))
            refused = http.post(path, json=body)
            assert refused.status_code == 400, refused.text
            seen[f"create 400 {path}"] = refused.text
        clean_faults.set(Fault(500, {"error": {"message": LEAK, "type": "server_error"}}))
        failed = http.post("/v1/videos", json=VIDEO)  # every deployment answers 5xx
        assert failed.status_code == 502, failed.text
        seen["create 502 /v1/videos"] = failed.text
        clean_faults.set(Fault(503, {"error": {"message": LEAK}}, times=1))
        retried = _created(http.post("/v1/videos", json=VIDEO))  # the other deployment took it
        clean_faults.set(None)
        failing = {**VIDEO, "prompt": "[sim:fail] [leak:fail]"}
        blocked = _created(http.post("/v1/videos", json=failing))
        gave_up = _created(http.post("/v1/videos", json={**VIDEO, "prompt": "[leak:poll]"}))
    assert clean_faults.faulted == 3 + 2 + 1
    jobs = (retried, blocked, gave_up)
    videos = {job: _terminal(served, key, job) for job in jobs}
    assert videos[blocked]["status"] == videos[gave_up]["status"] == "failed"
    assert REDACTED in videos[blocked]["error"]["message"]  # the reason itself is kept
    assert REDACTED in videos[gave_up]["error"]["message"]
    with served.http(key) as http:
        for job in jobs:
            seen[f"GET /v1/videos/{job}"] = http.get(f"/v1/videos/{job}").text
            v2 = http.get("/v2/video/generations", params={"generation_id": job})
            seen[f"GET /v2/video/generations {job}"] = v2.text
            task = http.get(f"/v1/video/generations/{job}")
            seen[f"GET /v1/video/generations/{job}"] = task.text
        seen["GET /v1/videos"] = http.get("/v1/videos", params={"limit": 100}).text
        pasted = http.get(f"/v1/videos/{key}")  # a client pasted its key into the path
        assert pasted.status_code == 404, pasted.text
        seen["GET /v1/videos/<its own key>"] = pasted.text
    with served.http() as http:
        for job in jobs:
            seen[f"GET /jobs/{job}"] = http.get(f"/jobs/{job}").text
        seen["GET /health/deployments"] = http.get("/health/deployments").text
    attempts = json.loads(seen[f"GET /jobs/{retried}"])["attempts"]
    assert REDACTED in attempts[0]["error"]["message"] and attempts[1]["error"] is None
    board = json.loads(seen["GET /health/deployments"])["deployments"]
    assert any(REDACTED in (row["last_error"] or {}).get("message", "") for row in board)
    assert all(REDACTED in seen[f"create 400 {path}"] for path in SURFACES)

    def announced() -> list[str] | None:
        bodies = [call.body.decode() for call in served.receiver.calls(hook)]
        return bodies if all(any(job in body for body in bodies) for job in jobs) else None

    for number, body in enumerate(wait_for(announced, timeout=60)):
        seen[f"webhook delivery {number}"] = body
    wait_for(lambda: _logged_404s(served) > 0)  # request log rows are batched
    for file in sorted(served.data_dir.rglob("*")):  # the database (and its WAL), blobs, ...
        if file.is_file():
            text = file.read_bytes().decode("latin-1")
            seen[f"file {file.relative_to(served.data_dir)}"] = text
    logs = served.logs()
    assert "HTTP Request: POST http://127.0.0.1" in logs  # the upstream calls are logged
    seen["the gateway's log output"] = logs

    leaks = [place for place, text in seen.items() if DEP_KEY in text or key in text]
    assert leaks == [], f"a key leaked in {len(leaks)} of {len(seen)} places"
    assert len(seen) >= 28


def test_signed_download_urls_are_logged_without_their_signatures(served: Served) -> None:
    with served.http() as http:
        created = http.post("/v1/videos", json={"model": "hailuo", "prompt": "a lighthouse"})
        job = _created(created)
    assert _terminal(served, MASTER, job)["status"] == "completed"

    def download_logged() -> list[str] | None:
        lines = [line for line in served.logs().splitlines() if "/download/" in line]
        return lines or None

    (line, *_) = wait_for(download_logged)  # the archiver fetched the signed URL
    assert json.loads(line)["logger"] == "vidgate.upstream"
    assert f"Expires={REDACTED}&Signature={REDACTED}" in line
    unredacted = re.compile(r"(?i)[?&](signature|expires)=(?!\[redacted\])")
    assert not unredacted.search(served.logs())


@pytest.mark.parametrize(
    ("url", "kept"),
    [
        (
            "https://b.s3.amazonaws.com/v.mp4?X-Amz-Algorithm=AWS4&X-Amz-Credential=AKIA%2F1"
            "&X-Amz-Signature=ab12&X-Amz-Security-Token=tok%2Bz",
            "X-Amz-Algorithm=AWS4",
        ),
        (
            "https://acct.blob.core.windows.net/c/v.mp4?sv=2024&st=2025&se=2026&sr=b&sp=r"
            "&skoid=u1&sig=Zm9v%3D",
            "/c/v.mp4",
        ),
        (
            "https://storage.googleapis.com/b/o?X-Goog-Credential=sa%40p&X-Goog-Signature=9f"
            "&alt=media",
            "alt=media",
        ),
        ("https://cdn.example/v.mp4?Expires=17&Signature=a~b&Key-Pair-Id=K2", "cdn.example"),
        ("https://api.example/v1/files/x:download?key=AIzaSy123&access_token=ya29.x", "x:download"),
        ("https://up.example/o.mp4?_jwt=eyJ.a.b&token=t0k3n&api_key=k3y", "o.mp4"),
        ("b'https://h/v.mp4?sig=s1g'", "b'https://h/v.mp4?sig="),  # httpcore's bytes reprs
        ("https://h/next?url=https%3A%2F%2Fx%2Fv%3Fsig%3Ds1gn3d%26a%3D1", "a%3D1"),
        ("redis://:hunter2pass@cache:6379/0", "@cache:6379"),
    ],
)
def test_the_redactor_hides_signed_query_values(url: str, kept: str) -> None:
    redacted = Redactor()(url)
    assert kept in redacted
    for secret in (
        "ab12",
        "tok%2Bz",
        "AKIA",
        "Zm9v",
        "2026",
        "9f&",
        "sa%40p",
        "a~b",
        "K2",
        "AIzaSy123",
        "ya29",
        "eyJ",
        "t0k3n",
        "k3y",
        "s1g",
        "hunter2pass",
    ):
        assert secret not in redacted, (secret, redacted)


def test_client_text_redacts_known_secrets_and_shapes() -> None:
    REDACTOR.add([DEP_KEY])  # as the app adds its config's credentials at start
    assert DEP_KEY not in UpstreamError(f"upstream said {DEP_KEY}").message  # via REDACTOR
    text = client_text(f"key {DEP_KEY}, virtual sk-vg-{'a' * 24}, see https://x/y?sig=1")
    assert DEP_KEY not in text and "sk-vg-" not in text and "https://" not in text
