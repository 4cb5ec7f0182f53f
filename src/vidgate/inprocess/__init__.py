"""vidgate inside a Python program, without a server (``docs/in-process.md``)::

    from vidgate.inprocess import client

    with client(config="vidgate.yaml", data_dir=".vidgate") as openai_client:
        video = openai_client.videos.create_and_poll(prompt="a fox", seconds="4")

``client`` and ``async_client`` give an OpenAI SDK client whose HTTP transport is the
gateway's ASGI app in this process; ``Gateway`` and ``AsyncGateway`` keep the gateway open
for several clients (and plain ``httpx`` clients for the admin routes).
"""

from vidgate.inprocess.gateway import (
    AsyncGateway,
    Gateway,
    async_client,
    client,
    resolve_settings,
)

__all__ = ["AsyncGateway", "Gateway", "async_client", "client", "resolve_settings"]
