"""Runs one render in a worker process and leaves its outcome as files in the task folder.

Files are the whole protocol between the gateway and its workers (``task.json`` in,
``worker``, ``progress``, ``error`` and ``out.mp4`` out), so a gateway restarted after SIGKILL
finds every finished render where it left it and restarts only the unfinished ones.
``worker`` names the process rendering the task, so a render whose worker died is told
apart from renders that only lost their place in the pool with it (``runtime.py``).
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path


def write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def run_task(task_dir: str) -> None:
    """Render the task in ``task_dir``; failures are written to ``error``, never raised."""
    from vidgate.media.render import RenderSpec, render  # heavy: PyAV

    folder = Path(task_dir)
    write_atomic(folder / "worker", str(os.getpid()))
    spec = RenderSpec(**json.loads((folder / "task.json").read_text()))
    # A render orphaned by a killed gateway may still run: each writes its own file and the
    # (deterministic, identical) result is moved into place atomically.
    own = folder / f"out.{os.getpid()}.mp4"
    try:
        render(spec, str(own), lambda pct: write_atomic(folder / "progress", str(pct)))
        os.replace(own, folder / "out.mp4")
    except ValueError as exc:  # the spec or an input: its message is written for clients
        write_atomic(folder / "error", str(exc))
    except Exception:  # reported through the task folder, without internal detail
        logging.getLogger("vidgate.local").exception("render failed in %s", folder.name)
        write_atomic(folder / "error", "The local renderer failed to render this video.")
