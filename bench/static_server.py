"""A plain static-file server for comparison: Starlette ``StaticFiles`` under uvicorn.

python bench/static_server.py --port P DIRECTORY
"""

from __future__ import annotations

import argparse

import uvicorn
from starlette.applications import Starlette
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("directory")
    args = parser.parse_args()
    app = Starlette(routes=[Mount("/", StaticFiles(directory=args.directory))])
    uvicorn.run(
        app,
        host="127.0.0.1",
        port=args.port,
        log_level="warning",
        access_log=False,
        loop="uvloop",
        http="httptools",
    )


if __name__ == "__main__":
    main()
