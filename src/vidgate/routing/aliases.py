"""Model names as users write them, resolved to a model group.

Besides the group names of ``model_list``, a request may name a model
``<provider>/<upstream model>`` (as LiteLLM and aggregator gateways write them) — that
resolves to the group holding such a deployment, when exactly one does — or a plain alias:
the operator's ``model_aliases`` from the config, and a few common ones the provider specs
declare (``veo3``, ``kling-video``, ``hailuo-video``, ...), each pointing at the first of its
candidates that is configured. A configured group name always wins over an alias of the same
spelling. The specs' names from other gateways' APIs (aimlapi's ``/v2``) are merged here too.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping

from vidgate.providers.base import Provider
from vidgate.values import ForeignName


def builtin_aliases(providers: Mapping[str, Provider]) -> dict[str, tuple[str, ...]]:
    """Every provider spec's built-in names, as ``provider/model`` candidates, best first
    (within a spec as it lists them, across providers in the registry's order)."""
    merged: dict[str, tuple[str, ...]] = {}
    for name, provider in providers.items():
        for alias, models in provider.spec.aliases.items():
            merged[alias] = merged.get(alias, ()) + tuple(f"{name}/{m}" for m in models)
    return merged


def foreign_names(providers: Mapping[str, Provider]) -> dict[str, ForeignName]:
    """Other gateways' model names, merged over the specs, as ``provider/model`` candidates."""
    merged: dict[str, ForeignName] = {}
    for name, provider in providers.items():
        for foreign, meaning in provider.spec.foreign_names.items():
            before = merged.get(foreign.lower(), ForeignName(()))
            merged[foreign.lower()] = ForeignName(
                before.models + tuple(f"{name}/{m}" for m in meaning.models),
                before.image_models + tuple(f"{name}/{m}" for m in meaning.image_models),
                before.resolution or meaning.resolution,
            )
    return merged


def vendor_paths(providers: Mapping[str, Provider]) -> dict[str, str]:
    """aimlapi's legacy vendor paths, merged over the specs."""
    return {v: model for p in providers.values() for v, model in p.spec.vendor_paths.items()}


def resolve_aliases(
    groups: Mapping[str, Iterable[tuple[str, str]]],
    configured: Mapping[str, str],
    builtin: Mapping[str, tuple[str, ...]],
    *,
    preferred: Collection[str] | None = None,
) -> dict[str, str]:
    """Alias → group. ``groups`` maps each group to its deployments' (provider, model).

    A built-in alias points at the first of its candidates in a ``preferred`` group (the
    config file's, over those the environment registered), else at the first configured."""
    owners: dict[str, set[str]] = {}
    for group, deployments in groups.items():
        for provider, model in deployments:
            owners.setdefault(f"{provider}/{model}", set()).add(group)
    aliases = {
        name: next(iter(found))
        for name, found in owners.items()
        if len(found) == 1 and name not in groups
    }
    for alias, candidates in builtin.items():
        targets = [c if c in groups else aliases.get(c) for c in candidates]
        first = (t for t in targets if t and (preferred is None or t in preferred))
        target = next(first, None) or next((t for t in targets if t), None)
        if target is not None and alias not in groups:
            aliases[alias] = target
    aliases.update({a: g for a, g in configured.items() if a not in groups})
    return aliases
