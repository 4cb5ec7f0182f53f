"""Pricing data: per-second list prices by tier, audio surcharges, provider units."""

from __future__ import annotations

import pytest

from vidgate.values import Pricing, resolution_tier


def test_usd_per_second_by_tier() -> None:
    veo = Pricing(per_second={"720p": 0.40, "1080p": 0.40, "4k": 0.60})
    assert veo.usd(8, "4k") == pytest.approx(4.8)
    assert veo.usd(8, "480p") is None
    assert Pricing(per_second={"*": 0.1}).usd(4, "480p") == pytest.approx(0.4)


def test_credits_and_audio() -> None:
    runway = Pricing(
        per_second={"*": 20}, per_second_audio={"*": 40}, unit="credits", usd_per_unit=0.01
    )
    assert runway.usd(8, "720p") == pytest.approx(1.6)
    assert runway.usd(8, "720p", audio=True) == pytest.approx(3.2)
    assert runway.units_usd(50) == pytest.approx(0.5)
    ticks = Pricing(per_second={"480p": 5e8}, unit="usd_ticks", usd_per_unit=1e-10)
    assert ticks.usd(1, "480p") == pytest.approx(0.05)


@pytest.mark.parametrize(
    ("size", "tier"),
    [
        ((1280, 720), "720p"),
        ((720, 1280), "720p"),
        ((1920, 1080), "1080p"),
        ((3840, 2160), "4k"),
        ((854, 480), "480p"),
        ((960, 540), "540p"),
    ],
)
def test_resolution_tier(size: tuple[int, int], tier: str) -> None:
    assert resolution_tier(*size) == tier
