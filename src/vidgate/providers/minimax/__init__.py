"""Provider ``minimax``: MiniMax Hailuo (v1 Hailuo-02/2.3/01 series, v2 MiniMax-H3)."""

from __future__ import annotations

from vidgate.providers.base import Provider
from vidgate.providers.minimax.adapter import MinimaxAdapter
from vidgate.providers.minimax.spec import SPEC

PROVIDER = Provider(spec=SPEC, adapter=MinimaxAdapter)
