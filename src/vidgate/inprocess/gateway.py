"""The gateway inside a Python program: the app, its lifespan and an OpenAI client whose
HTTP transport is the app itself — no server, no socket.

``Gateway`` (sync) runs the app on a loop in a background thread (``bridge.py``);
``AsyncGateway`` runs it in the caller's own event loop. Both start the app's own lifespan —
migrations, recovery, the poller and the archiver — exactly as ``vidgate serve`` does, and
stop it on close. Settings resolve as ``vidgate serve`` resolves them (``build_settings``):
the same data dir, database, storage and master key defaults and ``VIDGATE_*`` variables.
A config may be a file, a mapping shaped like one, or ready ``Settings``.

SQLite belongs to one gateway: a second gateway on the same SQLite file in this process is
refused (its start-up would take over the first one's jobs). ``openai`` is not a serving
dependency; it is imported when a client is made.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import AsyncIterator, Iterator, Mapping
from pathlib import Path
from types import ModuleType, TracebackType
from typing import TYPE_CHECKING, Any

import httpx

from vidgate.app import create_app
from vidgate.inprocess.bridge import LoopThread, SyncTransport
from vidgate.inprocess.mainguard import check_main_script
from vidgate.inprocess.transport import StreamingASGITransport
from vidgate.settings import ConfigError, Settings, build_settings, check_document

if TYPE_CHECKING:
    import openai

BASE_URL = "http://vidgate.local"
"""The origin requests carry (nothing resolves it: the transport hands them to the app)."""

Config = str | os.PathLike[str] | Mapping[str, Any] | Settings | None
Folder = str | os.PathLike[str] | None

_DATABASES: set[str] = set()
_DATABASES_LOCK = threading.Lock()


def resolve_settings(config: Config = None, data_dir: Folder = None) -> Settings:
    """``Settings`` as ``vidgate serve --config CONFIG --data-dir DATA_DIR`` would build
    them; ``config`` may also be a mapping (a config file's content) or ``Settings``."""
    if isinstance(config, Settings):
        if data_dir is not None:
            raise TypeError("data_dir is given by the Settings passed as config: pass one")
        return config
    folder = None if data_dir is None else Path(data_dir)
    if isinstance(config, Mapping):
        checked = check_document(dict(config))
        if checked.config is None:
            raise ConfigError(checked.problems, file="config")
        return build_settings(data_dir=folder, config=checked.config)
    path = None if config is None else Path(config)
    return build_settings(data_dir=folder, config_path=path)


def _openai() -> ModuleType:
    try:
        import openai
    except ImportError:
        raise ImportError(
            "vidgate.inprocess makes OpenAI SDK clients: install the openai package "
            "(pip install openai)"
        ) from None
    return openai


class _Embedded:
    """What both kinds share: settings, the app, the claim on a SQLite database."""

    def __init__(self, config: Config = None, data_dir: Folder = None):
        check_main_script()
        self.settings = resolve_settings(config, data_dir)
        self.app = create_app(self.settings)
        self._claimed = False

    @property
    def master_key(self) -> str:
        """The master key (``VIDGATE_MASTER_KEY``, else the data dir's ``master_key``)."""
        return self.settings.master_key

    @property
    def base_url(self) -> str:
        """The base URL of the OpenAI-compatible API, for clients of this gateway."""
        return f"{BASE_URL}/v1"

    def _claim(self) -> None:
        if not self.settings.sole_process:
            return  # PostgreSQL: any number of gateways may share it
        url = self.settings.database_url
        with _DATABASES_LOCK:
            if url in _DATABASES:
                raise RuntimeError(
                    f"a gateway on {self.settings.data_dir} already runs in this process: "
                    "use its client, or give this one another data_dir"
                )
            _DATABASES.add(url)
        self._claimed = True

    def _release(self) -> None:
        if self._claimed:
            with _DATABASES_LOCK:
                _DATABASES.discard(self.settings.database_url)
            self._claimed = False

    def _headers(self, api_key: str | None) -> dict[str, str]:
        return {"Authorization": f"Bearer {api_key or self.master_key}"}


class Gateway(_Embedded):
    """The gateway for sync code, on an event loop in a background thread::

    with Gateway(config="vidgate.yaml", data_dir=".vidgate") as gateway:
        client = gateway.client()  # an openai.OpenAI
    """

    def __init__(self, config: Config = None, data_dir: Folder = None):
        super().__init__(config, data_dir)
        self._runner = LoopThread(self.app)

    def start(self) -> Gateway:
        """Start the app (migrations, recovery, poller); its start-up errors raise here."""
        self._claim()
        try:
            self._runner.start()
        except BaseException:
            self._release()
            raise
        return self

    def close(self) -> None:
        """Stop the poller and everything the app started; clients made here stop working."""
        self._runner.close()
        self._release()

    def __enter__(self) -> Gateway:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def http_client(self, *, api_key: str | None = None, **options: Any) -> httpx.Client:
        """An ``httpx.Client`` on the gateway (the admin routes, ``/key/generate``, ...),
        with the master key unless ``api_key`` is given."""
        return httpx.Client(
            transport=SyncTransport(self._runner, self.app),
            base_url=BASE_URL,
            headers=self._headers(api_key),
            **options,
        )

    def client(self, *, api_key: str | None = None, **options: Any) -> openai.OpenAI:
        """An ``openai.OpenAI`` on the gateway; ``options``: the SDK's (``max_retries``,
        ``timeout``, ...)."""
        sdk: openai.OpenAI = _openai().OpenAI(
            base_url=self.base_url,
            api_key=api_key or self.master_key,
            http_client=httpx.Client(transport=SyncTransport(self._runner, self.app)),
            **options,
        )
        return sdk


class AsyncGateway(_Embedded):
    """The gateway for async code, in the caller's event loop::

    async with AsyncGateway(config="vidgate.yaml") as gateway:
        client = gateway.client()  # an openai.AsyncOpenAI
    """

    def __init__(self, config: Config = None, data_dir: Folder = None):
        super().__init__(config, data_dir)
        self._stack: contextlib.AsyncExitStack | None = None

    async def start(self) -> AsyncGateway:
        """Start the app in this event loop; its start-up errors raise here."""
        self._claim()
        stack = contextlib.AsyncExitStack()
        stack.callback(self._release)
        try:
            await stack.enter_async_context(self.app.router.lifespan_context(self.app))
        except BaseException:
            await stack.aclose()
            raise
        self._stack = stack
        return self

    async def aclose(self) -> None:
        """Stop the poller and everything the app started (in this event loop)."""
        stack, self._stack = self._stack, None
        if stack is not None:
            await stack.aclose()

    def _transport(self) -> StreamingASGITransport:
        return StreamingASGITransport(self.app, running=lambda: self._stack is not None)

    async def __aenter__(self) -> AsyncGateway:
        return await self.start()

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    def http_client(self, *, api_key: str | None = None, **options: Any) -> httpx.AsyncClient:
        """An ``httpx.AsyncClient`` on the gateway, with the master key unless ``api_key``."""
        return httpx.AsyncClient(
            transport=self._transport(),
            base_url=BASE_URL,
            headers=self._headers(api_key),
            **options,
        )

    def client(self, *, api_key: str | None = None, **options: Any) -> openai.AsyncOpenAI:
        """An ``openai.AsyncOpenAI`` on the gateway; ``options``: the SDK's."""
        sdk: openai.AsyncOpenAI = _openai().AsyncOpenAI(
            base_url=self.base_url,
            api_key=api_key or self.master_key,
            http_client=httpx.AsyncClient(transport=self._transport()),
            **options,
        )
        return sdk


@contextlib.contextmanager
def client(
    config: Config = None,
    data_dir: Folder = None,
    *,
    api_key: str | None = None,
    **options: Any,
) -> Iterator[openai.OpenAI]:
    """A sync OpenAI client on a gateway started for the ``with`` block and stopped after."""
    _openai()  # before anything starts
    with Gateway(config, data_dir) as gateway, gateway.client(api_key=api_key, **options) as sdk:
        yield sdk


@contextlib.asynccontextmanager
async def async_client(
    config: Config = None,
    data_dir: Folder = None,
    *,
    api_key: str | None = None,
    **options: Any,
) -> AsyncIterator[openai.AsyncOpenAI]:
    """An async OpenAI client on a gateway started in this event loop for the ``async
    with`` block and stopped after."""
    _openai()
    gateway = AsyncGateway(config, data_dir)
    async with gateway, gateway.client(api_key=api_key, **options) as sdk:
        yield sdk
