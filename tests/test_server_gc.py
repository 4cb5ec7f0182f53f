"""The collector of the process that serves (``vidgate.server.settle_gc``): once the app has
started, what start-up built is frozen and young collections come less often.

Run in a child process: the settings are process-wide, and this test process must keep its
own.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

from vidgate.server import GC_YOUNG_THRESHOLD

CHILD = textwrap.dedent(
    """
    import gc, json, os, signal
    from vidgate.server import run_server, server_config

    built = {}

    async def app(scope, receive, send):
        assert scope["type"] == "lifespan"
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                built["at_startup"] = ["made by the app's start-up"]
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return

    def started():
        marker = built["at_startup"]
        print(json.dumps({
            "threshold": gc.get_threshold(),
            "frozen": gc.get_freeze_count(),
            "startup_object_tracked": any(o is marker for o in gc.get_objects()),
        }), flush=True)
        os.kill(os.getpid(), signal.SIGINT)  # as Ctrl-C: run_server returns

    before = gc.get_threshold()
    print(json.dumps({"threshold_before": before}), flush=True)
    run_server(
        server_config(app, host="127.0.0.1", port=0, lifespan="on"), on_started=started
    )
    """
)


def test_serving_freezes_start_up_and_collects_young_objects_less_often() -> None:
    done = subprocess.run(
        [sys.executable, "-c", CHILD], capture_output=True, text=True, timeout=120, check=True
    )
    lines = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    before, after = lines
    assert before["threshold_before"][0] < GC_YOUNG_THRESHOLD  # Python's default until then
    assert after["threshold"][0] == GC_YOUNG_THRESHOLD
    assert after["threshold"][1:] == before["threshold_before"][1:]
    assert after["frozen"] > 0
    assert not after["startup_object_tracked"]  # frozen with start-up, never walked again
