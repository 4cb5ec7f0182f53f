"""Moderation before money: a create's text is checked before anything is held or sent.

Optional (``settings.moderation``, ``docs/moderation.md``). Two checks, cheapest first: a
local list of blocked terms (whole words or phrases, case-insensitive), then an
OpenAI-compatible moderation endpoint (``POST {api_base}/moderations``). The job service
checks the terms once the request is parsed and placed (its fields and model are valid),
takes the key's and end user's rate-limit slots, then asks the endpoint (``check``), all
before the budget hold, the job row or any upstream call: a key past its rate limit makes
no moderation call, and a blocked request is a 400 ``content_policy_violation`` that costs
nothing and holds no jobs-in-flight slot (its rpm tick stays). The estimate checks the
terms only: it takes no slot, so it must not call a rate-limited endpoint. An endpoint
that fails is ``on_error``'s to decide: 503 ``moderation_unavailable`` (the default) or let
it through. Every outcome goes on the request log (``request_logs.moderation``) and into
``vidgate_moderation_checks_total``.

What is checked is the prompt, as every surface delivers it (Seedance's ``content`` text
item becomes the prompt). A negative prompt is not: it lists what the video must *not*
show, so "gore, nudity" there is a request for less of them, and flagging it would refuse
careful clients. The endpoint is called through the outbound address policy's client, so
a private address needs ``settings.outbound_allow``; its key is never logged or shown.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from dataclasses import dataclass
from typing import Any

import httpx

from vidgate.errors import GatewayError, InvalidRequest, ServiceUnavailable
from vidgate.netpolicy import OutboundPolicy
from vidgate.observe import metrics
from vidgate.observe.requests import note_current, upstream_time
from vidgate.outbound import guarded_client
from vidgate.request import VideoRequest
from vidgate.settings import ModerationEndpoint, ModerationSettings

log = logging.getLogger("vidgate.moderation")
_CATEGORY = re.compile(r"[A-Za-z0-9_/\-]{1,60}")
"""A category name as shown to clients and logged; anything else an endpoint sends is dropped."""
MAX_OUTCOME = 200
"""The size of ``request_logs.moderation``."""


@dataclass(frozen=True)
class Verdict:
    """One check's result: the request log's text, the metric's outcome, and the error to
    answer (``None``: the request goes on)."""

    outcome: str
    metric: str
    error: GatewayError | None = None


class EndpointFailed(Exception):
    """The moderation endpoint gave no usable answer; the text says why (no secret in it)."""


def blocked_terms_pattern(terms: list[str]) -> re.Pattern[str] | None:
    """One pattern for every term: whole words (no letter or digit right before or after),
    any run of whitespace between a phrase's words, case-insensitive."""
    if not terms:
        return None
    alternatives = sorted({r"\s+".join(map(re.escape, t.split())) for t in terms}, key=len)
    return re.compile(rf"(?<!\w)(?:{'|'.join(reversed(alternatives))})(?!\w)", re.IGNORECASE)


def texts(request: VideoRequest) -> list[str]:
    """What is moderated: the prompt (negative prompts are not; see the module docstring)."""
    return [request.prompt] if request.prompt and request.prompt.strip() else []


class Moderator:
    """The configured checks and the endpoint's HTTP client."""

    def __init__(
        self,
        settings: ModerationSettings,
        policy: OutboundPolicy,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        self.settings = settings
        self.terms = blocked_terms_pattern(settings.blocked_terms)
        endpoint = settings.deployment
        self.client = client
        if endpoint is not None and client is None:
            self.client = guarded_client(policy, timeout=httpx.Timeout(endpoint.timeout_s))

    async def aclose(self) -> None:
        if self.client is not None:
            await self.client.aclose()

    def check_terms(self, request: VideoRequest) -> None:
        """The local blocked terms (no call, so before any slot): raise the refusal. A pass
        is not noted: ``check`` notes the whole outcome."""
        verdict = self._terms(request)
        if verdict is not None and verdict.error is not None:
            self._noted(verdict)
            raise verdict.error

    async def check(self, request: VideoRequest) -> None:
        """The endpoint, once the terms passed and the caller's rate-limit slots are taken:
        raise the refusal for a flagged request (or a failure under ``refuse``)."""
        verdict = self._noted(await self._endpoint(request))
        if verdict.error is not None:
            raise verdict.error

    def reasons(self, request: VideoRequest) -> list[dict[str, Any]]:
        """The check for a dry run (``POST /v1/videos/estimate``): the blocked terms only,
        as a reason. The estimate never calls the endpoint (it takes no rate-limit slot, so
        it could call it without limit); the create does."""
        verdict = self._terms(request)
        if verdict is None:
            asked = self.settings.deployment is not None and bool(texts(request))
            verdict = Verdict("passed: terms only" if asked else "passed", "passed")
        self._noted(verdict)
        if verdict.error is None:
            return []
        return [{"code": verdict.error.code, "message": verdict.error.message}]

    async def judge(self, request: VideoRequest) -> Verdict:
        """Both checks, as a create meets them; the outcome is noted and counted."""
        return self._noted(self._terms(request) or await self._endpoint(request))

    @staticmethod
    def _noted(verdict: Verdict) -> Verdict:
        """``verdict`` on the request log and in the metric."""
        note_current(moderation=verdict.outcome[:MAX_OUTCOME])
        metrics.MODERATION_CHECKS.labels(verdict.metric).inc()
        return verdict

    def _terms(self, request: VideoRequest) -> Verdict | None:
        """The blocked-terms refusal, or ``None`` when no term is in the prompt."""
        if self.terms is not None and any(self.terms.search(text) for text in texts(request)):
            error = _blocked("the prompt contains a blocked term", request.name("prompt"))
            return Verdict("blocked: term", "blocked_term", error)
        return None

    async def _endpoint(self, request: VideoRequest) -> Verdict:
        found = texts(request)
        endpoint = self.settings.deployment
        if endpoint is None or not found:
            return Verdict("passed", "passed")
        try:
            flagged = await self._ask(endpoint, found)
        except EndpointFailed as exc:
            return self._failed(str(exc))
        if flagged:
            names = ", ".join(flagged)
            error = _blocked(f"the prompt was flagged for {names}", request.name("prompt"))
            return Verdict(f"blocked: {names}", "blocked_flagged", error)
        return Verdict("passed", "passed")

    def _failed(self, why: str) -> Verdict:
        log.warning("moderation endpoint failed (%s); on_error=%s", why, self.settings.on_error)
        if self.settings.on_error == "allow":
            return Verdict(f"error: {why} (allowed)", "error_allowed")
        error = ServiceUnavailable(
            f"Content moderation is unavailable right now ({why}), so the request was not "
            "sent and nothing was charged. Please retry.",
            code="moderation_unavailable",
        )
        return Verdict(f"error: {why} (refused)", "error_refused", error)

    async def _ask(self, endpoint: ModerationEndpoint, found: list[str]) -> list[str]:
        """The flagged categories that block (empty: nothing does)."""
        assert self.client is not None
        body: dict[str, Any] = {"input": found}
        if endpoint.model:
            body["model"] = endpoint.model
        headers = {"Authorization": f"Bearer {endpoint.api_key}"} if endpoint.api_key else {}
        started = time.perf_counter()
        try:
            async with asyncio.timeout(endpoint.timeout_s):
                response = await self.client.post(
                    f"{endpoint.api_base}/moderations", json=body, headers=headers
                )
        except (TimeoutError, httpx.TimeoutException):
            raise EndpointFailed("timeout") from None
        except httpx.HTTPError:
            raise EndpointFailed("connection failed") from None
        finally:
            elapsed = time.perf_counter() - started
            metrics.MODERATION_SECONDS.observe(elapsed)
            upstream_time(elapsed)
        if response.status_code != 200:
            raise EndpointFailed(f"HTTP {response.status_code}")
        return _flagged(_results(response, len(found)), endpoint.categories)


def _results(response: httpx.Response, expected: int) -> list[dict[str, Any]]:
    """The reply's ``results``, one per input, each a mapping with a boolean ``flagged``."""
    try:
        results = response.json().get("results")
    except (ValueError, AttributeError):
        raise EndpointFailed("unreadable reply") from None
    if not isinstance(results, list) or len(results) != expected:
        raise EndpointFailed("unreadable reply")
    for result in results:
        if not isinstance(result, dict) or not isinstance(result.get("flagged"), bool):
            raise EndpointFailed("unreadable reply")
    return results


def _flagged(results: list[dict[str, Any]], blocking: list[str] | None) -> list[str]:
    """The categories that block: with ``blocking`` set, those of them any result marks
    true; else every true category of a flagged result ("unspecified" if none)."""
    found: list[str] = []
    for result in results:
        categories = result.get("categories")
        marked = [
            name
            for name, value in (categories.items() if isinstance(categories, dict) else ())
            if value is True and isinstance(name, str) and _CATEGORY.fullmatch(name)
        ]
        if blocking is not None:
            found += [name for name in marked if name in blocking]
        elif result["flagged"]:
            found += marked or ["unspecified"]
    return sorted(set(found))


def _blocked(why: str, param: str) -> InvalidRequest:
    return InvalidRequest(
        f"The request was refused by content moderation: {why}. No video was created and "
        "nothing was charged.",
        param=param,
        code="content_policy_violation",
    )
