"""Model names as users write them, resolved to a model group.

Besides the group names of ``model_list``, a request may name a model
``<provider>/<upstream model>`` (as LiteLLM and aggregator gateways write them) — that
resolves to the group holding such a deployment, when exactly one does — or a plain alias:
the operator's ``model_aliases`` from the config, and a few common ones built in (``veo3``,
``kling-video``, ``hailuo-video``, ...), each pointing at the first of its candidates that is
configured. A configured group name always wins over an alias of the same spelling.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

BUILTIN: Mapping[str, tuple[str, ...]] = {
    "veo3": ("gemini/veo-3.1-generate-preview", "vertex_ai/veo-3.1-generate-001"),
    "veo-3": ("gemini/veo-3.1-generate-preview", "vertex_ai/veo-3.1-generate-001"),
    "sora": ("openai/sora-2", "azure/sora-2"),
    "kling-video": ("kling/kling-v2-6", "kling/kling-v2-1", "kling/kling-v3"),
    "hailuo-video": ("minimax/MiniMax-Hailuo-2.3", "minimax/MiniMax-Hailuo-02"),
    "seedance-video": (
        "seedance/doubao-seedance-1-0-pro-250528",
        "seedance/seedance-1-0-pro-250528",
    ),
    "wan-video": ("wan/wan2.6-t2v", "wan/wan2.5-t2v-preview", "wan/wan2.2-t2v-plus"),
    "vidu-video": ("vidu/viduq3-pro", "vidu/viduq2"),
    "runway-video": ("runway/gen4_turbo", "runway/gen4.5"),
    "luma-video": ("luma/ray-2",),
    "grok-video": ("xai/grok-imagine-video",),
}


def resolve_aliases(
    groups: Mapping[str, Iterable[tuple[str, str]]], configured: Mapping[str, str]
) -> dict[str, str]:
    """Alias → group. ``groups`` maps each group to its deployments' (provider, model)."""
    owners: dict[str, set[str]] = {}
    for group, deployments in groups.items():
        for provider, model in deployments:
            owners.setdefault(f"{provider}/{model}", set()).add(group)
    aliases = {
        name: next(iter(found))
        for name, found in owners.items()
        if len(found) == 1 and name not in groups
    }
    for alias, candidates in BUILTIN.items():
        targets = (c if c in groups else aliases.get(c) for c in candidates)
        target = next((t for t in targets if t), None)
        if target is not None and alias not in groups:
            aliases[alias] = target
    aliases.update({a: g for a, g in configured.items() if a not in groups})
    return aliases
