"""``vidgate simulate``: serve a provider's upstream simulator on loopback, and print the
``model_list`` entry that points a gateway at it."""

from __future__ import annotations

import errno
import importlib
import importlib.util
import socket
from typing import Annotated, Any

import typer
import yaml

from vidgate.cli.base import app, console, err, say_error

PORTS = range(1, 65536)
MODERATION = "moderation"
"""Not a provider: the moderation endpoint's simulator (``settings.moderation``)."""


def simulators() -> list[str]:
    """The providers that ship a simulator (``vidgate.providers.<name>.simulator``)."""
    from vidgate.providers.registry import PROVIDERS

    return [
        name
        for name in PROVIDERS
        if importlib.util.find_spec(f"vidgate.providers.{name}.simulator") is not None
    ]


def model_entry(provider: str, port: int, api_key: str) -> tuple[dict[str, Any], list[str]]:
    """The ``model_list`` entry for ``provider``'s simulator on ``port``, and the steps to do
    before it works (as YAML comments)."""
    from vidgate.providers.registry import PROVIDERS

    module = importlib.import_module(f"vidgate.providers.{provider}.simulator")
    url = f"http://127.0.0.1:{port}"
    entry: dict[str, Any] = {
        "model_name": f"{provider}-sim",
        "provider": provider,
        # the provider's first model, unless the simulator names one that takes a prompt alone
        "model": getattr(module, "EXAMPLE_MODEL", next(iter(PROVIDERS[provider].spec.models))),
        "api_base": url + module.API_PATH,
        "api_key": api_key,
        "poll_interval_s": 1,  # a simulator's jobs take seconds
    }
    steps: list[str] = []
    if provider == "kling":  # ACCESS_KEY:SECRET_KEY, or one value for both
        access, _, secret = api_key.partition(":")
        entry["api_key"] = access
        entry["options"] = {"secret_key": secret or access}
    elif provider == "vertex_ai":  # vidgate signs in with the simulator's service-account file
        del entry["api_key"]
        entry["options"] = {"credentials": "./sim-sa.json", "gcs_base": url}
        steps.append(
            f"first (and after each restart of the simulator): "
            f"curl -s {url}/__sim__/service_account > sim-sa.json"
        )
    return entry, steps


class _Indented(yaml.SafeDumper):
    """YAML with list items indented under their key, as the docs write ``model_list``."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        super().increase_indent(flow, False)


def _list() -> None:
    names = simulators()
    console.print("simulators: " + ", ".join(names), highlight=False, soft_wrap=True)
    console.print(
        "run one: vidgate simulate NAME [--port 9100] [--api-key sk-sim]",
        highlight=False,
        markup=False,
    )
    console.print(
        f"and `vidgate simulate {MODERATION}`: an OpenAI-compatible /v1/moderations",
        highlight=False,
        markup=False,
    )


def _port_free(port: int) -> str | None:
    """Why ``port`` cannot be bound on 127.0.0.1, or ``None``."""
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                return "it is in use"
            return (exc.strerror or str(exc)).lower()
    return None


@app.command()
def simulate(
    provider: Annotated[
        str | None,
        typer.Argument(help="Provider whose upstream to simulate, e.g. gemini (none: the list)."),
    ] = None,
    port: Annotated[int, typer.Option(help="Port on 127.0.0.1 (1-65535).")] = 9100,
    api_key: Annotated[
        str, typer.Option(help="The only API key the simulator accepts.")
    ] = "sk-sim",
    job_seconds: Annotated[float, typer.Option(help="Time from create to completed.")] = 5.0,
    list_them: Annotated[
        bool, typer.Option("--list", help="List the providers that have a simulator.")
    ] = False,
) -> None:
    """Serve a provider's upstream simulator on loopback for offline development, and print
    the ``model_list`` entry that points a gateway at it."""
    if list_them or provider is None:
        _list()
        return
    names = simulators()
    if provider not in names and provider != MODERATION:
        say_error(f"no simulator for provider {provider!r}; there are: {', '.join(names)}")
        raise typer.Exit(2)
    if port not in PORTS:
        say_error(f"--port {port}: give a port from 1 to 65535")
        raise typer.Exit(2)
    if job_seconds <= 0:
        say_error(f"--job-seconds {job_seconds:g}: give a positive number of seconds")
        raise typer.Exit(2)
    busy = _port_free(port)
    if busy is not None:
        say_error(f"cannot listen on 127.0.0.1:{port} ({busy}): pick another with --port")
        raise typer.Exit(1)
    if provider == MODERATION:
        _serve(_moderation(port, api_key), port)
        return
    module = importlib.import_module(f"vidgate.providers.{provider}.simulator")
    sim_app = module.create_app(module.SimulatorConfig(api_key=api_key, job_seconds=job_seconds))
    entry, steps = model_entry(provider, port, api_key)
    console.print(
        f"{provider} simulator on http://127.0.0.1:{port} (api key {api_key}); Ctrl-C stops it",
        highlight=False,
        markup=False,
    )
    console.print("paste into your config (vidgate.yaml):", highlight=False, markup=False)
    for step in steps:
        console.print(f"# {step}", highlight=False, markup=False, soft_wrap=True)
    text = yaml.dump({"model_list": [entry]}, Dumper=_Indented, sort_keys=False)
    console.print(text, highlight=False, markup=False, soft_wrap=True)
    _serve(sim_app, port)


def _serve(sim_app: Any, port: int) -> None:
    import uvicorn

    try:
        uvicorn.run(sim_app, host="127.0.0.1", port=port, log_level="warning", access_log=False)
    except KeyboardInterrupt:
        err.print("stopped", highlight=False)


def _moderation(port: int, api_key: str) -> Any:
    """The moderation simulator's app, after printing the ``settings:`` that use it."""
    from vidgate.providers import moderation_sim

    sim_app = moderation_sim.create_app(moderation_sim.SimulatorConfig(api_key=api_key))
    url = f"http://127.0.0.1:{port}"
    console.print(
        f"moderation simulator on {url} (api key {api_key}); Ctrl-C stops it",
        highlight=False,
        markup=False,
    )
    console.print("paste into your config (vidgate.yaml):", highlight=False, markup=False)
    deployment = {"api_base": f"{url}/v1", "api_key": api_key, "model": moderation_sim.MODELS[0]}
    settings = {"outbound_allow": ["127.0.0.1/32"], "moderation": {"deployment": deployment}}
    text = yaml.dump({"settings": settings}, Dumper=_Indented, sort_keys=False)
    console.print(text, highlight=False, markup=False, soft_wrap=True)
    return sim_app
