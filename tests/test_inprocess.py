"""The gateway inside a Python program (``vidgate.inprocess``): OpenAI SDK clients whose HTTP
transport is the app, sync (the app on a loop in a thread) and async (in the test's loop).

Driven with the official SDK against the local renderer and the OpenAI simulator on
loopback; the streaming transport itself against small ASGI apps (memory, disconnects,
errors); and the examples of ``docs/in-process.md``, run as written in processes of their
own.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import re
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
import tracemalloc
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, StreamingResponse
from starlette.routing import Route

from tests.conftest import LOCAL_FAST
from tests.support import free_port, png_bytes, quick, serve_sim, video_shape
from vidgate.inprocess import AsyncGateway, Gateway, async_client, client
from vidgate.inprocess.bridge import LoopThread, SyncTransport
from vidgate.inprocess.transport import StreamingASGITransport
from vidgate.jobs.heartbeat import Heartbeat
from vidgate.providers.openai.simulator import SimulatorConfig
from vidgate.providers.openai.simulator import create_app as openai_sim
from vidgate.settings import ConfigError

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

DOC = Path(__file__).parent.parent / "docs" / "in-process.md"
SMALL = {"seconds": "2", "size": "320x180"}


def gateway_threads() -> set[threading.Thread]:
    """The in-process loop's thread, the database's threads, the heartbeat."""
    return {t for t in threading.enumerate() if t.name.startswith("vidgate-") and t.is_alive()}


def other_tasks() -> set[asyncio.Task[Any]]:
    return {task for task in asyncio.all_tasks() if task is not asyncio.current_task()}


# --- the SDK on the local renderer ---------------------------------------------------------


def test_the_sync_client_makes_lists_and_serves_a_video(tmp_path: Path) -> None:
    before = gateway_threads()
    with client(LOCAL_FAST, tmp_path / "data", max_retries=0) as sdk:
        assert gateway_threads() - before  # the loop's thread and the gateway's own
        video = sdk.videos.create_and_poll(
            model="local/preview", prompt="a fox", poll_interval_ms=50, **SMALL
        )
        assert (video.status, video.size, video.seconds) == ("completed", "320x180", "2")
        content = sdk.videos.download_content(video.id).content
        assert video_shape(content)[:2] == (320, 180)
        assert [v.id for v in sdk.videos.list()] == [video.id]
        assert sdk.videos.retrieve(video.id).status == "completed"
        with pytest.raises(openai.BadRequestError) as refused:
            sdk.videos.create(model="local/preview", prompt="a fox", seconds="25")  # type: ignore[arg-type]
        assert refused.value.status_code == 400 and refused.value.param == "seconds"
        assert "20" in refused.value.message  # the lengths it takes, 1 to 20
        with pytest.raises(openai.NotFoundError):
            sdk.videos.retrieve("video_" + "0" * 32)
    assert gateway_threads() - before == set()  # closed: poller, database, loop all gone
    assert (tmp_path / "data" / "vidgate.db").is_file()
    assert (tmp_path / "data" / "master_key").is_file()


async def test_closing_waits_for_the_submit_upkeep_to_stop(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The heartbeat thread's stop is slow on a busy machine: closing still waits for it."""
    stop = Heartbeat.stop

    def slow_stop(self: Heartbeat) -> None:
        time.sleep(0.5)  # a loaded machine's join, made certain
        stop(self)

    monkeypatch.setattr(Heartbeat, "stop", slow_stop)
    async with async_client(LOCAL_FAST, tmp_path / "data", max_retries=0) as sdk:
        assert [v async for v in sdk.videos.list()] == []
    assert other_tasks() == set()


async def test_the_async_client_makes_lists_and_serves_a_video(tmp_path: Path) -> None:
    before = gateway_threads()
    async with async_client(LOCAL_FAST, tmp_path / "data", max_retries=0) as sdk:
        assert other_tasks()  # the poller, lease upkeep, webhook sender ... in this loop
        video = await sdk.videos.create_and_poll(
            model="local/preview", prompt="a fox", poll_interval_ms=50, **SMALL
        )
        assert video.status == "completed"
        content = await sdk.videos.download_content(video.id)
        assert video_shape(content.content)[:2] == (320, 180)
        assert [v.id async for v in sdk.videos.list()] == [video.id]
        assert (await sdk.videos.retrieve(video.id)).progress == 100
        with pytest.raises(openai.BadRequestError) as refused:
            await sdk.videos.create(model="local/preview", prompt="a fox", size="999x999")  # type: ignore[arg-type]
        assert refused.value.param == "size" and "320x180" in refused.value.message
    assert other_tasks() == set()
    assert gateway_threads() - before == set()


def test_an_upload_and_a_remix_go_through_the_sync_bridge(tmp_path: Path) -> None:
    """Multipart request bodies reach the app; a follow-up finds its source."""
    with Gateway(LOCAL_FAST, tmp_path / "data") as gateway:
        sdk = gateway.client(max_retries=0)
        first = sdk.videos.create_and_poll(
            model="local/preview",
            prompt="from a frame",
            input_reference=("frame.png", png_bytes(320, 180), "image/png"),
            poll_interval_ms=50,
            **SMALL,
        )
        assert first.status == "completed", first.error
        remix = sdk.videos.remix(first.id, prompt="again")
        assert sdk.videos.poll(remix.id, poll_interval_ms=50).status == "completed"
        assert remix.remixed_from_video_id == first.id


def test_the_event_stream_flows_and_stops_when_the_reader_leaves(tmp_path: Path) -> None:
    """``/v1/videos/events`` never ends by itself: through the sync bridge its events arrive
    as they are sent, and leaving mid-stream stops it (the gateway then closes)."""
    with Gateway(LOCAL_FAST, tmp_path / "data") as gateway, gateway.http_client() as http:
        made = http.post("/v1/videos", json={"prompt": "watched", **SMALL}).json()
        with http.stream("GET", "/v1/videos/events", params={"video_id": made["id"]}) as events:
            assert events.status_code == 200
            for line in events.iter_lines():
                if line.startswith("data:") and json.loads(line[5:])["status"] == "completed":
                    break
    assert not any(t.name == "vidgate-inprocess" for t in threading.enumerate())


def test_a_virtual_key_through_the_admin_client(tmp_path: Path) -> None:
    with Gateway(LOCAL_FAST, tmp_path / "data") as gateway:
        with gateway.http_client() as admin:
            key = admin.post("/key/generate", json={"max_budget": 5}).json()["key"]
        mine, master = gateway.client(api_key=key), gateway.client()
        video = mine.videos.create(model="local/preview", prompt="a fox", **SMALL)  # type: ignore[arg-type]
        other = master.videos.create(model="local/preview", prompt="a hen", **SMALL)  # type: ignore[arg-type]
        assert [v.id for v in mine.videos.list()] == [video.id]
        with pytest.raises(openai.NotFoundError):  # another key's video
            mine.videos.retrieve(other.id)
        with pytest.raises(openai.AuthenticationError):
            gateway.client(api_key="sk-wrong", max_retries=0).videos.list()


# --- several gateways, their data dirs, closing -----------------------------------------------


def test_two_gateways_on_two_data_dirs_do_not_interfere(tmp_path: Path) -> None:
    with Gateway(LOCAL_FAST, tmp_path / "a") as a, Gateway(LOCAL_FAST, tmp_path / "b") as b:
        assert a.master_key != b.master_key
        first, second = a.client(max_retries=0), b.client(max_retries=0)
        made_a = first.videos.create(model="local/preview", prompt="in a", **SMALL)  # type: ignore[arg-type]
        made_b = second.videos.create(model="local/preview", prompt="in b", **SMALL)  # type: ignore[arg-type]
        assert first.videos.poll(made_a.id, poll_interval_ms=50).status == "completed"
        assert second.videos.poll(made_b.id, poll_interval_ms=50).status == "completed"
        assert [v.id for v in first.videos.list()] == [made_a.id]
        assert [v.id for v in second.videos.list()] == [made_b.id]
        with pytest.raises(openai.NotFoundError):
            first.videos.retrieve(made_b.id)
        with pytest.raises(openai.AuthenticationError):  # each has its own master key
            a.client(api_key=b.master_key, max_retries=0).videos.list()


def test_a_data_dir_is_one_gateways_and_keeps_its_videos(tmp_path: Path) -> None:
    with Gateway(LOCAL_FAST, tmp_path / "data") as gateway:
        with pytest.raises(RuntimeError, match="already runs in this process"):
            Gateway(LOCAL_FAST, tmp_path / "data").start()
        sdk = gateway.client(max_retries=0)
        made = sdk.videos.create_and_poll(
            model="local/preview", prompt="kept", poll_interval_ms=50, **SMALL
        )
    with client(LOCAL_FAST, tmp_path / "data") as again:  # reopened: the same state
        assert again.videos.retrieve(made.id).status == "completed"
        assert video_shape(again.videos.download_content(made.id).content)[:2] == (320, 180)


def test_a_closed_gateway_refuses_calls_and_stops_its_thread(tmp_path: Path) -> None:
    before = gateway_threads()
    gateway = Gateway(LOCAL_FAST, tmp_path / "data").start()
    sdk = gateway.client(max_retries=0)
    assert sdk.models.list().data
    gateway.close()
    gateway.close()  # idempotent
    assert gateway_threads() - before == set()
    with pytest.raises(openai.APIConnectionError) as failed:
        sdk.models.list()
    assert "not running" in str(failed.value.__cause__)


def test_the_sync_client_serves_a_thread_pool(tmp_path: Path) -> None:
    with Gateway(LOCAL_FAST, tmp_path / "data") as gateway:
        sdk = gateway.client(max_retries=0)

        def make(index: int) -> str:
            video = sdk.videos.create_and_poll(
                model="local/preview", prompt=f"fox {index}", poll_interval_ms=50, **SMALL
            )
            return video.status

        with concurrent.futures.ThreadPoolExecutor(4) as pool:
            assert list(pool.map(make, range(4))) == ["completed"] * 4
        assert len(sdk.videos.list().data) == 4


def test_a_gateway_left_open_stops_cleanly_at_exit(tmp_path: Path) -> None:
    """The exit hook runs the app's shutdown: the heartbeat deletes its replica row only on
    a clean stop (a killed process leaves it)."""
    program = textwrap.dedent(
        f"""
        from vidgate.inprocess import Gateway

        if __name__ == "__main__":
            gateway = Gateway({LOCAL_FAST!r}, "data").start()
            sdk = gateway.client(max_retries=0)
            video = sdk.videos.create(model="local/preview", prompt="left", **{SMALL!r})
            print(video.id)
        """
    )
    done = run_script(tmp_path, "left_open.py", program)
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr[-3000:]
    with sqlite3.connect(tmp_path / "data" / "vidgate.db") as db:
        assert db.execute("SELECT count(*) FROM replicas").fetchone() == (0,)
        (status,) = db.execute("SELECT status FROM jobs").fetchone()
    assert status in ("queued", "in_progress", "completed")  # left to the next start


def test_the_exit_hook_closes_gateways_before_the_pools_stop(tmp_path: Path) -> None:
    """Exit hooks run last-registered first; the pools' hooks are registered when their
    module is first imported, lazily, at the first ProcessPoolExecutor — which may come
    after the gateway's hook. Had it, the pools would refuse the shutdown's work (seen as
    "cannot schedule new futures after interpreter shutdown" from a job archiving at exit)."""
    program = textwrap.dedent(
        """
        import threading

        from vidgate.inprocess import bridge

        bridge._exit_hook()
        import concurrent.futures
        concurrent.futures.ProcessPoolExecutor  # what a render or a probe does later
        hooks = [getattr(h, "func", h) for h in threading._threading_atexits]
        print([f"{h.__module__}.{h.__qualname__}" for h in hooks])
        """
    )
    done = run_script(tmp_path, "hooks.py", program)
    assert done.returncode == 0, done.stderr[-3000:]
    order = done.stdout.strip()
    assert order.index("concurrent.futures.process") < order.index("bridge._close_all"), order


async def test_a_start_that_fails_raises_and_leaves_nothing_behind(tmp_path: Path) -> None:
    """A Redis nobody answers fails the app's start-up: the error reaches the caller, what
    had started stopped, and the data dir is free for the next gateway."""
    before = gateway_threads()
    unreachable = {**LOCAL_FAST, "redis_url": f"redis://127.0.0.1:{free_port()}/0"}
    with pytest.raises(Exception, match=r"(?i)connect"):
        Gateway(unreachable, tmp_path / "data").start()
    assert gateway_threads() - before == set()
    with pytest.raises(Exception, match=r"(?i)connect"):
        await AsyncGateway(unreachable, tmp_path / "data").start()
    assert other_tasks() == set() and gateway_threads() - before == set()
    with Gateway(LOCAL_FAST, tmp_path / "data") as gateway:
        assert gateway.client(max_retries=0).models.list().data


def test_a_config_given_as_a_mapping_is_checked_like_a_file(tmp_path: Path) -> None:
    bad = {"model_list": [{"model_name": "x", "provider": "local", "model": "preview", "rpm": -1}]}
    with pytest.raises(ConfigError, match=r"model_list\[0\]\.rpm"):
        Gateway(bad, tmp_path / "data")
    with pytest.raises(TypeError, match="data_dir"):
        Gateway(Gateway(LOCAL_FAST, tmp_path / "ok").settings, tmp_path / "other")


async def test_the_sync_client_works_inside_a_running_loop_but_not_its_own(
    tmp_path: Path,
) -> None:
    """Called from a coroutine (a notebook), the sync client blocks only its caller; called
    from the gateway's own loop it would wait for itself, and is refused."""
    with Gateway(LOCAL_FAST, tmp_path / "data") as gateway:
        sdk = gateway.client(max_retries=0)
        assert sdk.models.list().data  # this test's loop is running

        async def from_inside() -> Any:
            return sdk.models.list()

        with pytest.raises(RuntimeError, match=r"own event loop.*async_client"):
            gateway._runner.call(from_inside())


# --- a simulator deployment ----------------------------------------------------------------


@pytest.fixture(scope="module")
def openai_upstream() -> Iterator[str]:
    with serve_sim(openai_sim(quick(SimulatorConfig(api_key="sk-upstream")))) as sim:
        yield sim.url


async def test_a_simulator_deployment_through_the_async_gateway(
    tmp_path: Path, openai_upstream: str
) -> None:
    config = {
        "model_list": [
            {
                "model_name": "sora-2",
                "provider": "openai",
                "model": "sora-2",
                "api_base": f"{openai_upstream}/v1",
                "api_key": "sk-upstream",
            }
        ]
    }
    async with AsyncGateway(config, tmp_path / "data") as gateway:
        sdk = gateway.client(max_retries=0)
        video = await sdk.videos.create_and_poll(
            model="sora-2", prompt="a fox", seconds="4", size="1280x720", poll_interval_ms=50
        )
        assert video.status == "completed", video.error
        width, height, seconds = video_shape((await sdk.videos.download_content(video.id)).content)
        assert (width, height) == (1280, 720) and abs(seconds - 4) < 0.3
        async with gateway.http_client() as admin:
            spend = (await admin.get("/spend/logs")).json()["data"]
        (row,) = [row for row in spend if row["job_id"] == video.id]
        assert row["cost_usd"] > 0  # priced and charged once, as behind a server
    with pytest.raises(openai.APIConnectionError):  # closed: nothing reaches the app
        await sdk.models.list()


# --- the streaming transport ------------------------------------------------------------------

MIB = 1024 * 1024


def big_body_app(size: int, chunk: int = 256 * 1024) -> Starlette:
    async def body() -> AsyncIterator[bytes]:
        piece = b"\0" * chunk
        for _ in range(size // chunk):
            yield bytes(piece)  # a new object each time, as a file read makes

    async def big(request: Request) -> StreamingResponse:
        return StreamingResponse(body(), media_type="video/mp4")

    return Starlette(routes=[Route("/big", big)])


async def read_all(transport: httpx.AsyncBaseTransport) -> tuple[int, int]:
    """Bytes read from ``/big`` and Python's peak allocation while reading them."""
    tracemalloc.start()
    try:
        async with (
            httpx.AsyncClient(transport=transport, base_url="http://t") as http,
            http.stream("GET", "/big") as response,
        ):
            total = sum([len(chunk) async for chunk in response.aiter_raw()])
        return total, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


async def test_a_20_mb_body_streams_in_bounded_memory() -> None:
    size = 20 * MIB
    total, peak = await read_all(StreamingASGITransport(big_body_app(size)))
    assert total == size and peak < 4 * MIB, peak
    total, peak = await read_all(httpx.ASGITransport(big_body_app(size)))  # what it replaces
    assert total == size and peak > size, peak


def test_a_20_mb_body_streams_through_the_sync_bridge_in_bounded_memory() -> None:
    app = big_body_app(20 * MIB)
    runner = LoopThread(app)
    runner.start()
    try:
        tracemalloc.start()
        with (
            httpx.Client(transport=SyncTransport(runner, app), base_url="http://t") as http,
            http.stream("GET", "/big") as response,
        ):
            total = sum(len(chunk) for chunk in response.iter_raw())
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
        runner.close()
    assert total == 20 * MIB and peak < 4 * MIB, peak


async def test_closing_a_response_early_tells_the_app_the_client_left() -> None:
    seen: list[str] = []

    async def one_chunk_then_listen(scope: Any, receive: Any, send: Any) -> None:
        await receive()  # the (empty) request body
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"x" * 65536, "more_body": True})
        seen.append((await receive())["type"])  # until the client leaves

    transport = StreamingASGITransport(one_chunk_then_listen)
    async with (
        httpx.AsyncClient(transport=transport, base_url="http://t") as http,
        http.stream("GET", "/") as response,
    ):
        async for _ in response.aiter_raw():
            break
    assert seen == ["http.disconnect"]  # the close waited for the app to end


async def test_an_endless_stream_stops_when_the_reader_leaves() -> None:
    """An event stream never ends; a reader that stops must stop it, even while the app
    waits for room in a full channel, and even if its generator never awaits."""
    ended = asyncio.Event()

    async def events() -> AsyncIterator[bytes]:
        while True:
            yield b"data: " + b"x" * 300_000 + b"\n\n"

    async def feed(request: Request) -> StreamingResponse:
        return StreamingResponse(events(), media_type="text/event-stream")

    app = Starlette(routes=[Route("/events", feed)])

    async def watched(scope: Any, receive: Any, send: Any) -> None:
        try:
            await app(scope, receive, send)
        finally:
            ended.set()

    async with (
        httpx.AsyncClient(transport=StreamingASGITransport(watched), base_url="http://t") as http,
        http.stream("GET", "/events") as response,
    ):
        received = 0
        async for chunk in response.aiter_raw():
            received += len(chunk)
            if received > 3 * MIB:
                break
    assert ended.is_set()  # closing the response waited for the app to end


async def test_app_errors_reach_the_client() -> None:
    async def broken(scope: Any, receive: Any, send: Any) -> None:
        raise ValueError("before any response")

    async def silent(scope: Any, receive: Any, send: Any) -> None:
        return None

    async def half(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"some", "more_body": True})
        raise ValueError("mid-body")

    for app, error in ((broken, "before any"), (silent, "without sending"), (half, "mid-body")):
        async with httpx.AsyncClient(
            transport=StreamingASGITransport(app), base_url="http://t"
        ) as http:
            with pytest.raises((ValueError, RuntimeError), match=error):
                await http.get("/")


def test_a_request_body_from_a_generator_reaches_the_app() -> None:
    """A sync-only request stream is read in a worker thread, never in the gateway's loop."""

    async def echo(request: Request) -> JSONResponse:
        body = await request.body()
        return JSONResponse({"size": len(body), "start": body[:5].decode()})

    app = Starlette(routes=[Route("/echo", echo, methods=["POST"])])
    runner = LoopThread(app)
    runner.start()
    try:
        with httpx.Client(transport=SyncTransport(runner, app), base_url="http://t") as http:
            sent = http.post("/echo", content=(b"hello" + b"." * 99_995 for _ in range(30)))
        assert sent.json() == {"size": 3_000_000, "start": "hello"}
    finally:
        runner.close()


# --- the documentation's examples, as written --------------------------------------------------


def doc_blocks(language: str) -> list[str]:
    return re.findall(rf"^```{language}\n(.*?)^```$", DOC.read_text(), flags=re.M | re.S)


def doc_programs() -> list[str]:
    """The documentation's whole programs (the Python blocks with a main guard)."""
    return [block for block in doc_blocks("python") if 'if __name__ == "__main__":' in block]


def run_script(folder: Path, name: str, source: str) -> subprocess.CompletedProcess[str]:
    script = folder / name
    script.write_text(source)
    return subprocess.run(
        [sys.executable, str(script)], cwd=folder, capture_output=True, text=True, timeout=600
    )


def test_the_documentation_has_three_programs() -> None:
    assert len(doc_programs()) == 3  # sync, async, the gateway kept open


@pytest.mark.parametrize("index", [0, 1, 2])
def test_the_documented_examples_run_as_written(tmp_path: Path, index: int) -> None:
    (config,) = doc_blocks("yaml")
    (tmp_path / "vidgate.yaml").write_text(config)
    example = doc_programs()[index]
    done = run_script(tmp_path, "example.py", example)
    assert done.returncode == 0, done.stderr[-3000:]
    if "fox.mp4" in example:
        assert video_shape((tmp_path / "fox.mp4").read_bytes())[:2] == (1280, 720)
    else:
        assert "local/preview" in done.stdout


def test_without_the_openai_package_the_error_says_what_to_install(tmp_path: Path) -> None:
    program = (
        "import sys\n"
        "sys.modules['openai'] = None  # importing it raises ImportError, as when absent\n"
        "from vidgate.inprocess import client\n"
        "try:\n"
        "    with client(data_dir='d'):\n"
        "        pass\n"
        "except ImportError as exc:\n"
        "    print(exc)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", program], cwd=tmp_path, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "install the openai package (pip install openai)" in done.stdout
    assert not (tmp_path / "d").exists()  # nothing was started


def test_a_script_that_starts_the_gateway_on_import_is_refused_at_once(tmp_path: Path) -> None:
    unguarded = (
        "from vidgate.inprocess import client\n\nwith client(data_dir='d') as c:\n    pass\n"
    )
    done = run_script(tmp_path, "unguarded.py", unguarded)
    assert done.returncode != 0
    assert "unguarded.py, line 3, starts the gateway in code that runs on import" in done.stderr
    assert 'if __name__ == "__main__":' in done.stderr
    assert not (tmp_path / "d").exists()  # refused before anything was made
