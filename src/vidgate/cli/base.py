"""What every ``vidgate`` command shares: the Typer apps, the consoles, and the HTTP client
the client commands (generate, keys, spend, videos, models) talk to a running gateway with.

Client commands never end in a traceback: :func:`client_command` turns a gateway that cannot
be reached, an HTTP error or a local file problem into one line on stderr and exit 1."""

from __future__ import annotations

import errno
import functools
import os
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, NoReturn, ParamSpec, TypeVar

import httpx
import typer
from rich.console import Console
from rich.markup import escape

from vidgate import __version__
from vidgate.settings import cli_env

app = typer.Typer(
    help="vidgate: a self-hosted gateway for AI video generation.",
    no_args_is_help=True,
    add_completion=False,
)
keys_app = typer.Typer(help="Manage virtual API keys on a running gateway.", no_args_is_help=True)
app.add_typer(keys_app, name="keys")
config_app = typer.Typer(help="Work with config files.", no_args_is_help=True)
app.add_typer(config_app, name="config")
videos_app = typer.Typer(help="List, inspect, download and delete videos.", no_args_is_help=True)
app.add_typer(videos_app, name="videos")

PIPED_WIDTH = 10_000
"""Console width when the output is not a terminal: tables and lines are never cut or
wrapped when piped or captured (a terminal keeps its own width)."""


def _console(*, stderr: bool = False) -> Console:
    console = Console(stderr=stderr)
    if not console.is_terminal:
        console.width = PIPED_WIDTH
    return console


console = _console()
err = _console(stderr=True)
DEFAULT_BASE = "http://127.0.0.1:4000"
DEFAULT_DATA_DIR = ".vidgate"


def _version(value: bool) -> None:
    if value:
        console.print(f"vidgate {__version__}", highlight=False)
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """vidgate: a self-hosted gateway for AI video generation."""


class CliError(Exception):
    """A problem the user can fix: printed as one line (``error: ...``), exit ``code``."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


def fail(message: str, code: int = 1) -> NoReturn:
    raise CliError(message, code)


def say_error(message: str) -> None:
    err.print(f"[red]error[/red]: {escape(message)}", soft_wrap=True, highlight=False)


P = ParamSpec("P")
R = TypeVar("R")


def client_command(func: Callable[P, R]) -> Callable[P, R]:
    """Run a client command so that no error ends in a traceback: a :class:`CliError`, any
    httpx error and any ``OSError`` become one line on stderr and a non-zero exit."""

    @functools.wraps(func)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return func(*args, **kwargs)
        except CliError as exc:
            say_error(str(exc))
            raise typer.Exit(exc.code) from None
        except httpx.HTTPError as exc:
            say_error(describe_http_error(exc))
            raise typer.Exit(1) from None
        except OSError as exc:
            say_error(describe_os_error(exc))
            raise typer.Exit(1) from None

    return run


def _url_of(exc: httpx.HTTPError) -> str:
    try:
        url = exc.request.url
    except RuntimeError:  # no request attached
        return "the gateway"
    return f"{url.scheme}://{url.netloc.decode()}"


def _reason(exc: BaseException) -> str:
    """The innermost reason (``connection refused``), without ``[Errno 111]``."""
    while exc.__cause__ is not None or exc.__context__ is not None:
        exc = exc.__cause__ or exc.__context__  # type: ignore[assignment]
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror.lower()
    text = str(exc)
    if text.startswith("[Errno") and "] " in text:
        text = text.split("] ", 1)[1]
    return (text or type(exc).__name__).lower()


def describe_http_error(exc: httpx.HTTPError) -> str:
    base = _url_of(exc)
    if isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout):
        return (
            f"cannot reach the gateway at {base} ({_reason(exc)}): start it with "
            "`vidgate serve` or pass --base-url (or set VIDGATE_BASE_URL)"
        )
    if isinstance(exc, httpx.TimeoutException):
        return f"the gateway at {base} did not answer in time ({_reason(exc)}); try again"
    if isinstance(exc, httpx.UnsupportedProtocol | httpx.InvalidURL):
        return f"bad gateway URL ({exc}): pass --base-url like {DEFAULT_BASE}"
    if isinstance(exc, httpx.RemoteProtocolError | httpx.ReadError | httpx.WriteError):
        return (
            f"the connection to the gateway at {base} broke ({_reason(exc)}); "
            "is --base-url a vidgate gateway?"
        )
    return f"request to the gateway at {base} failed: {_reason(exc)}"


def describe_os_error(exc: OSError) -> str:
    where = f" {exc.filename}" if exc.filename else ""
    reason = exc.strerror or str(exc) or type(exc).__name__
    if exc.errno == errno.ENOSPC:
        return f"cannot write{where}: the disk is full"
    return f"{where.strip() or 'file'}: {reason.lower()}"


def data_dir_key(data_dir: Path | None) -> str | None:
    """The master key kept in the gateway's data dir (``--data-dir``, ``VIDGATE_DATA_DIR``
    or ``./.vidgate``), when the command runs beside it."""
    folder = data_dir or Path(cli_env("VIDGATE_DATA_DIR") or DEFAULT_DATA_DIR)
    try:
        key = (folder / "master_key").read_text().strip()
    except OSError:
        return None
    return key or None


def connect(
    base_url: str | None,
    api_key: str | None,
    data_dir: Path | None = None,
    *,
    master: bool = False,
) -> httpx.Client:
    """A client of the gateway. The key: ``--api-key``, else ``VIDGATE_API_KEY``, else
    ``VIDGATE_MASTER_KEY``, else the master key in the data dir. A command that needs the
    master key (``master``) looks at ``VIDGATE_MASTER_KEY`` before ``VIDGATE_API_KEY``, which
    may hold a virtual key exported for ``generate``."""
    base = (base_url or cli_env("VIDGATE_BASE_URL") or DEFAULT_BASE).rstrip("/")
    variables = ("VIDGATE_MASTER_KEY", "VIDGATE_API_KEY")
    if not master:
        variables = variables[::-1]
    key = api_key or cli_env(variables[0]) or cli_env(variables[1]) or data_dir_key(data_dir)
    if not key:
        folder = data_dir or cli_env("VIDGATE_DATA_DIR") or DEFAULT_DATA_DIR
        fail(
            f"no API key: pass --api-key, set VIDGATE_API_KEY, or run beside the gateway's "
            f"data dir (no {Path(folder) / 'master_key'}; --data-dir names another)",
            2,
        )
    if not base.startswith(("http://", "https://")):
        fail(f"bad --base-url {base!r}: give it like {DEFAULT_BASE}", 2)
    return httpx.Client(base_url=base, headers={"Authorization": f"Bearer {key}"}, timeout=60)


def check(response: httpx.Response) -> Any:
    """The reply's JSON, or exit 1 with the gateway's error message on one line."""
    if response.status_code >= 400:
        try:
            message = response.json()["error"]["message"]
        except (ValueError, KeyError, TypeError):
            message = response.text[:500]
        hint = ""
        if response.status_code == 401:
            hint = " (check --api-key, VIDGATE_API_KEY or the data dir's master_key)"
        message = " ".join(str(message).split())
        err.print(
            f"[red]error {response.status_code}[/red]: {escape(message)}{hint}",
            soft_wrap=True,
            highlight=False,
        )
        raise typer.Exit(1)
    try:
        return response.json()
    except ValueError:
        fail(f"the reply from {response.request.url} is not JSON: is --base-url a vidgate gateway?")


def download(client: httpx.Client, video_id: str, output: Path, variant: str = "video") -> int:
    """Stream a video's asset to ``output`` (through ``output.part``, renamed when whole);
    the number of bytes written."""
    params = {} if variant == "video" else {"variant": variant}
    with client.stream("GET", f"/v1/videos/{video_id}/content", params=params) as response:
        if response.status_code >= 400:
            response.read()
            check(response)
        return save(response, output)


def save(response: httpx.Response, output: Path) -> int:
    """A streamed reply's body into ``output`` (through ``output.part``, renamed when whole,
    removed if the stream breaks); the number of bytes written."""
    tmp = output.with_name(output.name + ".part")
    size = 0
    try:
        with tmp.open("wb") as handle:
            for chunk in response.iter_bytes(1 << 20):
                handle.write(chunk)
                size += len(chunk)
        tmp.replace(output)
    finally:
        tmp.unlink(missing_ok=True)
    return size


def writable_folder(path: Path, option: str) -> None:
    """Fail unless ``path``'s folder exists and this process may write in it."""
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        fail(f"{option} {path}: the folder {folder} does not exist (create it first)", 2)
    if not os.access(folder, os.W_OK | os.X_OK):
        fail(f"{option} {path}: the folder {folder} is not writable", 2)
    if path.is_dir():
        fail(f"{option} {path} is a folder: give a file name", 2)


def readable_file(path: Path, option: str) -> None:
    """Fail unless ``path`` is a file this process can read."""
    if not path.exists():
        fail(f"{option} {path}: no such file", 2)
    if not path.is_file():
        fail(f"{option} {path}: not a file", 2)
    try:
        with path.open("rb") as handle:
            handle.read(1)
    except OSError as exc:
        fail(f"{option} {path}: cannot read it ({(exc.strerror or str(exc)).lower()})", 2)


BaseUrl = Annotated[
    str | None,
    typer.Option(
        "--base-url", help="Gateway URL (or VIDGATE_BASE_URL; default " + DEFAULT_BASE + ")."
    ),
]
ApiKey = Annotated[
    str | None,
    typer.Option(
        "--api-key",
        "--master-key",
        help="API key (or VIDGATE_API_KEY; default: the master key in the data dir).",
    ),
]
MasterKey = Annotated[
    str | None,
    typer.Option(
        "--master-key",
        "--api-key",
        help="Master key (or VIDGATE_MASTER_KEY; default: the one in the data dir).",
    ),
]
DataDir = Annotated[
    Path | None,
    typer.Option(
        "--data-dir",
        help="The gateway's data dir, to read its master_key (or VIDGATE_DATA_DIR; "
        "default ./.vidgate).",
    ),
]
