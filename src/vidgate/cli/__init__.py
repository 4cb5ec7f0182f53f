"""The ``vidgate`` command: serve, generate, videos, models, keys, spend, config check,
simulate.

``serve`` runs the gateway; the other commands are HTTP clients of a running gateway (or,
for ``simulate``, serve a provider's upstream simulator), so they work the same against a
local or a remote deployment. Each command is a module of this package; importing them
registers them on ``app``.
"""

from __future__ import annotations

import sys

# httpx imports its own command-line client when the libraries it needs are installed
# (Pygments, Click, Rich's syntax: ~2 MiB resident in every vidgate process, measured on
# `vidgate serve`); vidgate never runs it, and httpx falls back to a stub that says so.
sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]

from vidgate.cli import config, generate, keys, models, serve, simulate, spend, videos  # noqa: E402
from vidgate.cli.base import app  # noqa: E402

__all__ = [
    "app",
    "config",
    "generate",
    "keys",
    "main",
    "models",
    "serve",
    "simulate",
    "spend",
    "videos",
]


def main() -> None:
    app(sys.argv[1:])
