"""Exact cost for each pricing rule: per second by tier and audio, provider units, overrides."""

from __future__ import annotations

import pytest

from vidgate.accounting.pricing import billed_seconds, estimate_usd, pricing_for, settle_usd
from vidgate.providers.registry import PROVIDERS
from vidgate.routing.config import build_table
from vidgate.settings import DeploymentEntry, FileConfig, PricingConfig
from vidgate.values import Pricing, ResolvedRequest


def request(seconds: int = 4, size: tuple[int, int] = (1280, 720), **kw: object) -> ResolvedRequest:
    return ResolvedRequest("create", "p", "m", seconds, size[0], size[1], 24, **kw)  # type: ignore[arg-type]


def deployment(provider: str, model: str, **entry: object):  # type: ignore[no-untyped-def]
    fields = {"model_name": "x", "provider": provider, "model": model, **entry}
    if provider in ("openai", "azure"):
        fields.setdefault("api_base", "http://127.0.0.1:1/v1")
    config = FileConfig(model_list=[DeploymentEntry.model_validate(fields)])
    return build_table(config, PROVIDERS).group("x")[0]


def test_per_second_by_resolution_tier() -> None:
    sora = pricing_for(deployment("openai", "sora-2"), PROVIDERS)
    assert estimate_usd(sora, request(8)) == 0.8
    pro = pricing_for(deployment("openai", "sora-2-pro"), PROVIDERS)
    assert estimate_usd(pro, request(12, (720, 1280))) == pytest.approx(3.6)


def test_audio_has_its_own_rate() -> None:
    veo = pricing_for(deployment("runway", "veo3.1", api_key="k"), PROVIDERS)
    assert estimate_usd(veo, request(8, audio=True)) == pytest.approx(8 * 40 * 0.01)
    assert estimate_usd(veo, request(8, audio=False)) == pytest.approx(8 * 20 * 0.01)


def test_provider_units_convert_with_the_unit_price() -> None:
    runway = pricing_for(deployment("runway", "gen4_turbo", api_key="k"), PROVIDERS)
    assert runway is not None and runway.unit == "credits"
    assert estimate_usd(runway, request(10, (1280, 720))) == pytest.approx(
        runway.per_second["*"] * 10 * 0.01
    )
    assert settle_usd(runway, {"seconds": 10}, None, 55) == pytest.approx(0.55)  # reported
    xai = Pricing(per_second={"480p": 5e8}, unit="usd_ticks", usd_per_unit=1e-10)
    assert settle_usd(xai, {"seconds": 1}, None, 5e8) == pytest.approx(0.05)


def test_settles_from_the_probed_video_not_the_request() -> None:
    sora = Pricing(per_second={"720p": 0.10, "1080p": 0.5})
    req = {"seconds": 4, "width": 1280, "height": 720}
    assert (
        settle_usd(sora, req, {"duration_seconds": 10.04, "width": 1280, "height": 720}, None)
        == 1.0
    )
    assert (
        settle_usd(sora, req, {"duration_seconds": 4.0, "width": 1920, "height": 1080}, None) == 2.0
    )
    assert settle_usd(sora, req, None, None) == pytest.approx(0.4)  # unmeasured: as requested
    extend = {
        "operation": "extend",
        "seconds": 4,
        "width": 1280,
        "height": 720,
        "source": {"seconds": 8},
    }
    assert settle_usd(
        sora, extend, {"duration_seconds": 12.0, "width": 1280, "height": 720}, None
    ) == pytest.approx(0.4)


def test_billed_seconds_rounds_encoder_padding() -> None:
    assert billed_seconds(4.04, 8) == 4.0
    assert billed_seconds(4.6, 8) == 5.0
    assert billed_seconds(0.2, 8) == 1.0
    assert billed_seconds(None, 8) == 8.0


def test_deployment_price_overrides_the_catalogue_and_local_is_free() -> None:
    custom = deployment("openai", "sora-2", pricing=PricingConfig(per_second={"*": 0.05}))
    assert estimate_usd(pricing_for(custom, PROVIDERS), request(4)) == pytest.approx(0.2)
    local = pricing_for(deployment("local", "preview"), PROVIDERS)
    assert estimate_usd(local, request(4)) == 0.0
    priced_local = deployment(
        "local", "preview", pricing=PricingConfig(per_second={"720p": 0.01}, unit="usd")
    )
    assert estimate_usd(pricing_for(priced_local, PROVIDERS), request(5)) == pytest.approx(0.05)


def test_unpriced_models_have_no_cost() -> None:
    assert estimate_usd(None, request()) is None
    assert settle_usd(None, {"seconds": 4}, {"duration_seconds": 4}, None) is None
