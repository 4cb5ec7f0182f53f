"""What the router knows about each deployment's health: a circuit breaker and latency.

The breaker is closed while a deployment works. ``failures`` failed creates within
``window_s`` open it for ``cooldown_s`` (a 429 with ``Retry-After`` opens it for exactly that
long); while open the deployment is skipped for new jobs. When the time is up it is
half-open: one request is let through as a probe, and its outcome closes the breaker or opens
it again. A deployment that is the only route of its group (one deployment, no fallbacks) is
never cooled: skipping it would turn every request into an error for the whole cooldown,
whatever the upstream would have said. Follow-ups of existing jobs never consult the
breaker: they are pinned.

State lives in this process. With replicas sharing Redis, a breaker one replica opens or
closes is announced (``on_change``) and applied by the others (``apply``), so a cooldown
holds everywhere; failure counts and latencies stay per replica.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from vidgate.errors import GatewayError, RateLimited, client_text
from vidgate.settings import CooldownSettings

LATENCY_ALPHA = 0.2
"""Weight of the newest sample in the moving average of create latency."""
PROBE_WAIT_S = 1.0
"""What a half-open deployment with its probe in flight tells others to wait."""
PROBE_TIMEOUT_S = 120.0
"""A probe that has not reported by then (its request vanished) no longer blocks others."""


@dataclass
class _Deployment:
    failures: deque[float] = field(default_factory=deque)
    open_until: float = 0.0
    probing: bool = False
    probe_started: float = 0.0
    latency_s: float | None = None
    successes: int = 0
    errors: int = 0
    last_error: dict[str, Any] | None = None


class HealthBoard:
    """Breakers and create latencies of every deployment, by deployment id."""

    def __init__(self, policy: CooldownSettings) -> None:
        self.policy = policy
        self._state: dict[str, _Deployment] = {}
        self.on_change: Callable[[str, float], None] | None = None
        """Called when this process opens a breaker (with its end) or closes one (0.0)."""

    def apply(self, deployment_id: str, open_until: float) -> None:
        """A breaker another replica opened (until ``open_until``) or closed (0.0)."""
        state = self._get(deployment_id)
        if open_until:
            state.open_until = max(state.open_until, open_until)
        else:
            state.open_until, state.probing = 0.0, False
            state.failures.clear()

    def _announce(self, deployment_id: str, open_until: float) -> None:
        if self.on_change is not None:
            self.on_change(deployment_id, open_until)

    def _get(self, deployment_id: str) -> _Deployment:
        state = self._state.get(deployment_id)
        if state is None:
            state = self._state[deployment_id] = _Deployment()
        return state

    def blocked_for(self, deployment_id: str, now: float | None = None) -> float:
        """Seconds until the deployment may take a new job (0: now)."""
        state = self._state.get(deployment_id)
        if state is None or not state.open_until:
            return 0.0
        now = time.time() if now is None else now
        if now < state.open_until:
            return state.open_until - now
        if state.probing and now - state.probe_started < PROBE_TIMEOUT_S:
            return PROBE_WAIT_S  # half-open: one probe at a time
        return 0.0

    def claim(self, deployment_id: str, now: float | None = None) -> bool:
        """Take the deployment for one attempt; in half-open state only one probe at a time."""
        now = time.time() if now is None else now
        if self.blocked_for(deployment_id, now) > 0:
            return False
        state = self._get(deployment_id)
        if state.open_until:
            state.probing, state.probe_started = True, now
        return True

    def succeeded(self, deployment_id: str, latency_s: float) -> None:
        state = self._get(deployment_id)
        state.successes += 1
        state.failures.clear()
        was_open, state.open_until = state.open_until, 0.0
        state.probing = False
        if was_open:
            self._announce(deployment_id, 0.0)
        if state.latency_s is None:
            state.latency_s = latency_s
        else:
            state.latency_s += LATENCY_ALPHA * (latency_s - state.latency_s)

    def failed(
        self,
        deployment_id: str,
        error: GatewayError,
        now: float | None = None,
        *,
        may_cool: bool = True,
    ) -> None:
        """Count a failed attempt; open the breaker when the window holds too many (unless
        ``may_cool`` is false: a deployment that is a request's only route stays usable)."""
        now = time.time() if now is None else now
        state = self._get(deployment_id)
        state.errors += 1
        state.last_error = {"code": error.code, "message": client_text(error.message), "at": now}
        opened = state.open_until
        window = state.failures
        window.append(now)
        while window and window[0] < now - self.policy.window_s:
            window.popleft()
        if not self.policy.enabled or not may_cool:
            pass
        elif isinstance(error, RateLimited) and error.retry_after_s:
            state.open_until = max(state.open_until, now + error.retry_after_s)
        elif state.probing or len(window) >= self.policy.failures:
            state.open_until = now + self.policy.cooldown_s
        state.probing = False
        if state.open_until > opened:
            self._announce(deployment_id, state.open_until)

    def released(self, deployment_id: str) -> None:
        """An attempt that claimed the deployment never reached it (e.g. limits)."""
        state = self._state.get(deployment_id)
        if state is not None:
            state.probing = False

    def latency(self, deployment_id: str) -> float | None:
        state = self._state.get(deployment_id)
        return None if state is None else state.latency_s

    def snapshot(self, deployment_id: str, now: float | None = None) -> dict[str, Any]:
        """The deployment's health as ``/health/deployments`` shows it."""
        now = time.time() if now is None else now
        state = self._state.get(deployment_id) or _Deployment()
        cooling = state.open_until > now
        return {
            "healthy": not cooling and not state.probing,
            "state": "cooling_down" if cooling else "probing" if state.open_until else "ok",
            "cooling_down_until": state.open_until if cooling else None,
            "recent_failures": sum(1 for t in state.failures if t >= now - self.policy.window_s),
            "latency_ms": None if state.latency_s is None else round(state.latency_s * 1000, 1),
            "successes": state.successes,
            "errors": state.errors,
            "last_error": state.last_error,
        }
