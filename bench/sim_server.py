"""Launch the OpenAI Videos simulator with any ``SimulatorConfig`` (the CLI lacks some knobs).

    python bench/sim_server.py --port P --api-key K --config '{"content_path": "...", ...}'

Served by uvicorn with its defaults (uvloop and httptools when installed), like
``vidgate simulate openai``.
"""

from __future__ import annotations

import argparse
import json

import uvicorn

from vidgate.providers.openai.simulator import SimulatorConfig, create_app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--api-key", default="sk-sim")
    parser.add_argument("--config", default="{}", help="SimulatorConfig fields as JSON")
    args = parser.parse_args()
    config = SimulatorConfig(api_key=args.api_key, **json.loads(args.config))
    app = create_app(config)
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning", access_log=False)


if __name__ == "__main__":
    main()
