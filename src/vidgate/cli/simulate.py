"""``vidgate simulate``: serve a provider's upstream simulator on loopback."""

from __future__ import annotations

import importlib
from typing import Annotated

import typer

from vidgate.cli.base import app, console, err


@app.command()
def simulate(
    provider: Annotated[
        str, typer.Argument(help="Provider whose upstream to simulate, e.g. openai.")
    ],
    port: Annotated[int, typer.Option(help="Port on 127.0.0.1.")] = 9100,
    api_key: Annotated[
        str, typer.Option(help="The only API key the simulator accepts.")
    ] = "sk-sim",
    job_seconds: Annotated[float, typer.Option(help="Time from create to completed.")] = 5.0,
) -> None:
    """Serve a provider's upstream simulator on loopback for offline development."""
    import uvicorn

    try:
        module = importlib.import_module(f"vidgate.providers.{provider}.simulator")
    except ModuleNotFoundError:
        err.print(f"No simulator for provider {provider!r}.")
        raise typer.Exit(2) from None
    sim_app = module.create_app(module.SimulatorConfig(api_key=api_key, job_seconds=job_seconds))
    console.print(f"{provider} simulator on http://127.0.0.1:{port} (api key {api_key})")
    uvicorn.run(sim_app, host="127.0.0.1", port=port, log_level="warning", access_log=False)
