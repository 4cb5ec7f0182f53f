"""State of the Azure video simulator: its config, jobs that follow the clock, shared checks.

Part of the simulator (see ``simulator.py``); independent of vidgate's azure spec and adapter.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request

from vidgate.providers.azure._sim_wire import (
    Body,
    deployment_not_found,
    invalid,
    not_found,
    rate_limited,
    server_error,
)
from vidgate.providers.simkit import BaseConfig, BaseState, BaseTask, hang, markers

V1_SIZES = ("720x1280", "1280x720")
JOBS_SIZES = {
    (480, 480),
    (480, 854),
    (854, 480),
    (720, 720),
    (720, 1280),
    (1280, 720),
    (1080, 1080),
    (1080, 1920),
    (1920, 1080),
}
SORA_1 = "sora"
_ULID = "0123456789abcdefghjkmnpqrstvwxyz"


@dataclass
class SimulatorConfig(BaseConfig):
    """Knobs of the simulated Azure resource."""

    api_key: str | None = "azure-sim-key"
    entra_token: str | None = None
    deployments: dict[str, str] = field(
        default_factory=lambda: {"sora-2": "sora-2", "sora-2-pro": "sora-2-pro", "sora": "sora"}
    )
    """Deployment name -> model (``sora`` is Sora 1 on the jobs API, others Sora 2 on v1)."""
    v1_seconds: tuple[str, ...] = ("4", "8", "12")
    max_running_jobs: int | None = None
    expires_after_s: float = 86_400.0


@dataclass
class SimJob(BaseTask):
    """A video (v1) or a video generation job (jobs API); its state follows the clock."""

    id: str
    api: str
    deployment: str
    prompt: str
    width: int
    height: int
    seconds: int
    created_at: float
    n_variants: int = 1
    remixed_from: str | None = None
    generations: list[str] = field(default_factory=list)
    poll_429: bool = False
    malformed: bool = False

    def phase(self) -> tuple[str, float]:
        return self.timeline.phase()

    @property
    def finished_at(self) -> float:
        return self.created_at + self.timeline.duration_s


@dataclass
class SimState(BaseState[SimulatorConfig]):
    """Everything the simulator remembers; ``app.state.sim``."""

    jobs: dict[str, SimJob] = field(default_factory=dict)
    generations: dict[str, str] = field(default_factory=dict)
    """Generation id -> job id."""
    auth_seen: list[dict[str, Any]] = field(default_factory=list)

    def new_job(self, api: str, deployment: str, prompt: str, **shape: Any) -> SimJob:
        found = markers(prompt)
        prefix = "video_" + secrets.token_hex(24) if api == "v1" else "task_" + _ulid()
        job = SimJob(
            id=prefix,
            api=api,
            deployment=deployment,
            prompt=prompt,
            created_at=time.time(),
            timeline=self.config.timeline(found),
            markers=found,
            poll_429="poll-429" in found,
            malformed="malformed" in found,
            **shape,
        )
        if api == "jobs":
            job.generations = ["gen_" + _ulid() for _ in range(job.n_variants)]
            self.generations.update(dict.fromkeys(job.generations, job.id))
        self.jobs[job.id] = job
        return job

    def job(self, job_id: str, api: str) -> SimJob:
        job = self.jobs.get(job_id)
        if job is None or job.api != api:
            raise (
                not_found()
                if api == "jobs"
                else invalid(f"Video with id '{job_id}' not found.", code="not_found", status=404)
            )
        return job

    def check_capacity(self, operation: str, version: str) -> None:
        limit = self.config.max_running_jobs
        running = sum(1 for job in self.jobs.values() if job.phase()[0] != "done")
        if limit is not None and running >= limit:
            raise rate_limited(operation, version)

    def deployment(self, body: Body, api: str) -> str:
        """The deployment named by ``model``; 404 unless it serves ``api``."""
        deployment = body.fields.get("model")
        if not isinstance(deployment, str) or not deployment:
            raise invalid(
                "Missing required parameter: 'model'.", "model", "missing_required_parameter"
            )
        model = self.config.deployments.get(deployment)
        if model is None:
            raise deployment_not_found()
        if (model == SORA_1) != (api == "jobs"):
            raise not_found()
        return deployment


def _ulid() -> str:
    return "01" + "".join(secrets.choice(_ULID) for _ in range(24))


async def check_faults(request: Request, prompt: str, operation: str, version: str) -> None:
    found = markers(prompt)
    sim = SimState.of(request)
    if "hang" in found and not await hang(request, sim.config.hang_seconds):
        raise server_error()  # nobody is listening: create nothing
    if "429" in found:
        raise rate_limited(operation, version)
    if "500" in found:
        raise server_error()
    sim.check_capacity(operation, version)


def require_prompt(body: Body) -> str:
    prompt = body.fields.get("prompt")
    if not isinstance(prompt, str) or not prompt.strip():
        raise invalid(
            "Missing required parameter: 'prompt'.", "prompt", "missing_required_parameter"
        )
    return prompt
