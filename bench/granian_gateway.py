"""The gateway's ASGI app under granian, for the server comparison (bench/serve_paths.py).

    python bench/granian_gateway.py --port P --data-dir D --config C   # VIDGATE_MASTER_KEY set

Built as ``vidgate serve`` builds it (settings, app, JSON logging at info), served by one
granian worker (ASGI, uvloop, one runtime thread), which offers ``http.response.pathsend``.
granian is not a vidgate dependency: ``pip install granian`` into the venv to run this.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any


def app() -> Any:
    """The factory granian's worker calls (arguments come through the environment)."""
    from vidgate.app import create_app
    from vidgate.observe.logs import configure
    from vidgate.redact import REDACTOR
    from vidgate.settings import build_settings

    settings = build_settings(
        host="127.0.0.1",
        port=int(os.environ["GRANIAN_GATEWAY_PORT"]),
        data_dir=Path(os.environ["GRANIAN_GATEWAY_DATA"]),
        config_path=Path(os.environ["GRANIAN_GATEWAY_CONFIG"]),
    )
    configure(REDACTOR, json_lines=True, level="info")
    return create_app(settings)


def main() -> None:
    from granian import Granian

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--config", type=Path, required=True)
    args = parser.parse_args()
    os.environ["GRANIAN_GATEWAY_PORT"] = str(args.port)
    os.environ["GRANIAN_GATEWAY_DATA"] = str(args.data_dir)
    os.environ["GRANIAN_GATEWAY_CONFIG"] = str(args.config)
    Granian(
        "granian_gateway:app",
        factory=True,
        address="127.0.0.1",
        port=args.port,
        interface="asgi",  # type: ignore[arg-type]
        loop="uvloop",  # type: ignore[arg-type]
        workers=1,
        runtime_threads=1,
        log_access=False,
        working_dir=Path(__file__).resolve().parent,
    ).serve()


if __name__ == "__main__":
    main()
