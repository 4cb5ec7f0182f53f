"""What the router knows about each deployment's health: a circuit breaker and latency.

The breaker is closed while a deployment works. It opens on an error *rate*, not on a run
of failures: when at least ``min_requests`` creates went to the deployment within
``window_s`` and an ``error_rate`` share of them failed, it cools for ``cooldown_s``. A run
of failures says little about an upstream that fails a third of its creates at random (two
such deployments would both be cooling half the time); a rate over enough creates does.
While open the deployment is skipped for new jobs — unless every deployment a request could
use is cooling: then the router tries the one whose cooldown ends first rather than refuse
(``force``), and its success closes the breaker. When the time is up the breaker is
half-open: one request is let through as a probe, and its outcome closes the breaker or
opens it again. A deployment that is the only route of its group (one deployment, no
fallbacks) is never cooled. Follow-ups of existing jobs never consult the breaker: they are
pinned.

A 429 with ``Retry-After`` is different: the upstream said when to come back, so the
deployment is skipped for exactly that long, by every request, forced or not.

State lives in this process. With replicas sharing Redis, a breaker one replica opens or
closes, and a ``Retry-After`` it was told, is announced (``on_change``) and applied by the
others (``apply``), so a cooldown holds everywhere; error rates and latencies stay per
replica.
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
class _Window:
    """Creates and failures of the last ``window_s``, in one-second buckets (memory stays
    bounded however many creates a second there are)."""

    buckets: deque[list[int]] = field(default_factory=deque)
    """``[second, creates, failures]``, oldest first."""
    creates: int = 0
    failures: int = 0

    def add(self, now: float, failed: bool, span: float) -> None:
        second = int(now)
        if self.buckets and self.buckets[-1][0] >= second:
            bucket = self.buckets[-1]
        else:
            bucket = [second, 0, 0]
            self.buckets.append(bucket)
        bucket[1] += 1
        bucket[2] += failed
        self.creates += 1
        self.failures += failed
        self.trim(now, span)

    def trim(self, now: float, span: float) -> None:
        """Forget the buckets wholly older than ``span`` seconds."""
        while self.buckets and self.buckets[0][0] + 1 <= now - span:
            _, creates, failures = self.buckets.popleft()
            self.creates -= creates
            self.failures -= failures

    def clear(self) -> None:
        self.buckets.clear()
        self.creates = self.failures = 0


@dataclass
class _Deployment:
    window: _Window = field(default_factory=_Window)
    open_until: float = 0.0
    """The breaker: open until then, half-open after (0: closed)."""
    told_until: float = 0.0
    """A ``Retry-After``: skipped until then, by every request."""
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
        self.on_change: Callable[[str, float, bool], None] | None = None
        """Called when this process opens a breaker (with its end), closes one (0.0), or is
        told a ``Retry-After`` (its end, and ``True``)."""

    def apply(self, deployment_id: str, open_until: float, retry_after: bool = False) -> None:
        """A breaker another replica opened (until ``open_until``) or closed (0.0), or a
        ``Retry-After`` it was told."""
        state = self._get(deployment_id)
        if not open_until:
            self._close(state)
        elif retry_after:
            state.told_until = max(state.told_until, open_until)
        else:
            state.open_until = max(state.open_until, open_until)

    def _announce(self, deployment_id: str, until: float, retry_after: bool = False) -> None:
        if self.on_change is not None:
            self.on_change(deployment_id, until, retry_after)

    def _get(self, deployment_id: str) -> _Deployment:
        state = self._state.get(deployment_id)
        if state is None:
            state = self._state[deployment_id] = _Deployment()
        return state

    def blocked_for(
        self, deployment_id: str, now: float | None = None, *, force: bool = False
    ) -> float:
        """Seconds until the deployment may take a new job (0: now). ``force`` looks past
        the breaker (not past a ``Retry-After``)."""
        state = self._state.get(deployment_id)
        if state is None:
            return 0.0
        now = time.time() if now is None else now
        told = max(0.0, state.told_until - now)
        if force or not state.open_until:
            return told
        if now < state.open_until:
            return max(told, state.open_until - now)
        if state.probing and now - state.probe_started < PROBE_TIMEOUT_S:
            return max(told, PROBE_WAIT_S)  # half-open: one probe at a time
        return told

    def claim(self, deployment_id: str, now: float | None = None, *, force: bool = False) -> bool:
        """Take the deployment for one attempt; in half-open state only one probe at a time
        (a forced attempt is no probe: it goes whatever the breaker says)."""
        now = time.time() if now is None else now
        if self.blocked_for(deployment_id, now, force=force) > 0:
            return False
        state = self._get(deployment_id)
        if state.open_until and not force:
            state.probing, state.probe_started = True, now
        return True

    def succeeded(self, deployment_id: str, latency_s: float, now: float | None = None) -> None:
        now = time.time() if now is None else now
        state = self._get(deployment_id)
        state.successes += 1
        if state.open_until or state.told_until:
            self._close(state)
            self._announce(deployment_id, 0.0)
        state.window.add(now, False, self.policy.window_s)
        if state.latency_s is None:
            state.latency_s = latency_s
        else:
            state.latency_s += LATENCY_ALPHA * (latency_s - state.latency_s)

    @staticmethod
    def _close(state: _Deployment) -> None:
        """Closed: the window starts afresh, so old failures cannot reopen it at once."""
        state.open_until = state.told_until = 0.0
        state.probing = False
        state.window.clear()

    def failed(
        self,
        deployment_id: str,
        error: GatewayError,
        now: float | None = None,
        *,
        may_cool: bool = True,
    ) -> None:
        """Count a failed attempt; open the breaker when the window's error rate is too high,
        or when it was open or probing (unless ``may_cool`` is false: a deployment that is a
        request's only route stays usable)."""
        now = time.time() if now is None else now
        state = self._get(deployment_id)
        state.errors += 1
        state.last_error = {"code": error.code, "message": client_text(error.message), "at": now}
        state.window.add(now, True, self.policy.window_s)
        probing, state.probing = state.probing, False
        if not self.policy.enabled or not may_cool:
            return
        if isinstance(error, RateLimited) and error.retry_after_s:
            until = now + error.retry_after_s
            if until > state.told_until:
                state.told_until = until
                self._announce(deployment_id, until, True)
        elif probing or state.open_until or self._tripped(state.window):
            until = now + self.policy.cooldown_s
            if until > state.open_until:
                state.open_until = until
                self._announce(deployment_id, until)

    def _tripped(self, window: _Window) -> bool:
        policy = self.policy
        enough = window.creates >= policy.min_attempts
        return enough and window.failures >= policy.error_rate * window.creates

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
        until = max(state.open_until, state.told_until)
        cooling = until > now
        state.window.trim(now, self.policy.window_s)
        return {
            "healthy": not cooling and not state.probing,
            "state": "cooling_down" if cooling else "probing" if state.open_until else "ok",
            "cooling_down_until": until if cooling else None,
            "recent_requests": state.window.creates,
            "recent_failures": state.window.failures,
            "latency_ms": None if state.latency_s is None else round(state.latency_s * 1000, 1),
            "successes": state.successes,
            "errors": state.errors,
            "last_error": state.last_error,
        }
