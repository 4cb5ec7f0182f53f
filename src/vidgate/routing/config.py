"""Deployments and model groups, built from the config file and checked against providers.

A *deployment* is one upstream (provider, upstream model, credentials, base URL) serving a
public model name; the public name is the *model group*. Jobs store the deployment id and
every follow-up resolves it here, so a follow-up never lands on another deployment.
"""

from __future__ import annotations

import difflib
import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from vidgate.providers.base import Provider
from vidgate.routing.aliases import (
    builtin_aliases,
    foreign_names,
    resolve_aliases,
    vendor_paths,
)
from vidgate.settings import (
    DEFAULT_JOB_DEADLINE_S,
    ConfigError,
    ConfigProblem,
    DeploymentEntry,
    FileConfig,
    Loc,
)
from vidgate.values import Deployment, ForeignName, Pricing

EMBEDDED_MODEL = "local/preview"


@dataclass(frozen=True)
class DeploymentTable:
    """Every configured deployment, by id and by public model name."""

    by_id: Mapping[str, Deployment]
    groups: Mapping[str, tuple[Deployment, ...]]
    default_model: str
    aliases: Mapping[str, str] = field(default_factory=dict)
    """Other names of groups: ``provider/model``, built-in and configured aliases."""
    foreign_names: Mapping[str, ForeignName] = field(default_factory=dict)
    """Other gateways' model names (lower case) and the ``provider/model`` names they mean."""
    vendor_paths: Mapping[str, str] = field(default_factory=dict)
    """aimlapi's legacy vendor paths and the model each uses when the body names none."""
    from_env: Mapping[str, int] = field(default_factory=dict)
    """Providers registered from credentials in the environment, and their deployments."""
    env_unused: tuple[str, ...] = ()
    """Providers whose credentials are in the environment but were not registered (a config
    file without ``settings.register_from_env: true``) and that the config does not use."""

    def group(self, model_name: str) -> tuple[Deployment, ...]:
        return self.groups.get(model_name, ())

    def resolve(self, name: str) -> str:
        """The group a model name means (the name itself when it is not an alias)."""
        return name if name in self.groups else self.aliases.get(name, name)


def deployment_id(entry: DeploymentEntry) -> str:
    """A stable id: explicit, else derived from what identifies the upstream."""
    if entry.id:
        return entry.id
    ident = f"{entry.model_name}|{entry.provider}|{entry.model}|{entry.api_base or ''}"
    return f"{entry.provider}-{hashlib.sha256(ident.encode()).hexdigest()[:12]}"


def build_table(
    config: FileConfig,
    providers: Mapping[str, Provider],
    environment: Mapping[str, str] | None = None,
) -> DeploymentTable:
    """Check every entry against the registry; the error lists every bad entry by path.

    Providers whose credentials are in ``environment`` are registered too when
    ``settings.register_from_env`` allows it (unset: only without a config file), each model
    as ``<provider>/<model>`` unless the config serves that name or that model already."""
    configured = config.model_list or [
        DeploymentEntry(model_name=EMBEDDED_MODEL, provider="local", model="preview")
    ]
    environment = environment or {}
    added: list[DeploymentEntry] = []
    if config.settings.register_from_env is not False:
        served = {(e.provider, e.model) for e in configured}
        added = env_entries(providers, environment, {e.model_name for e in configured}, served)
    entries = configured + added
    errors: list[ConfigProblem] = []
    by_id: dict[str, Deployment] = {}
    groups: dict[str, list[Deployment]] = {}
    for index, entry in enumerate(entries):
        try:
            deployment = _deployment(("model_list", index), entry, providers, config)
        except ConfigError as exc:
            errors.extend(exc.problems)
            continue
        if deployment.id in by_id:
            where = ("model_list", index)
            errors.append(ConfigProblem(where, f"duplicate deployment id {deployment.id!r}"))
            continue
        by_id[deployment.id] = deployment
        groups.setdefault(deployment.model_name, []).append(deployment)
    names = {entry.model_name for entry in entries}
    default = config.default_model or entries[0].model_name
    if default not in names:
        errors.append(
            ConfigProblem(
                ("default_model",),
                f"{default!r} is not a model_name in model_list{did_you_mean(default, names)} "
                f"(have: {', '.join(sorted(names))})",
            )
        )
    errors.extend(_fallback_errors(config, names))
    for alias, target in config.model_aliases.items():
        if target not in names:
            errors.append(ConfigProblem(("model_aliases", alias), _not_a_group(target, names)))
    if errors:
        raise ConfigError(errors)
    members = {name: [(d.provider, d.model) for d in group] for name, group in groups.items()}
    own = {entry.model_name for entry in configured}
    aliases = resolve_aliases(
        members, config.model_aliases, builtin_aliases(providers), preferred=own
    )
    from_env: dict[str, int] = {}
    for entry in added:
        from_env[entry.provider] = from_env.get(entry.provider, 0) + 1
    used = {entry.provider for entry in configured}  # their credentials are not "left out"
    unused = (
        [name for name in env_providers(providers, environment) if name not in used]
        if config.settings.register_from_env is False
        else []
    )
    return DeploymentTable(
        by_id,
        {k: tuple(v) for k, v in groups.items()},
        default,
        aliases,
        foreign_names(providers),
        vendor_paths(providers),
        from_env,
        tuple(unused),
    )


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """``; did you mean 'x'?`` for the choice closest to a misspelt ``word``, else ``""``."""
    guess = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.7)
    return f"; did you mean {guess[0]!r}?" if guess else ""


def _not_a_group(name: str, names: set[str]) -> str:
    return f"{name!r} is not a model_name in model_list{did_you_mean(name, names)}"


def _fallback_errors(config: FileConfig, names: set[str]) -> list[ConfigProblem]:
    errors = []
    for index, entry in enumerate(config.router.fallbacks):
        for group, fallbacks in entry.items():
            loc = ("router", "fallbacks", index, group)
            if group not in names:
                errors.append(ConfigProblem(loc, _not_a_group(group, names)))
            for position, fallback in enumerate(fallbacks):
                if fallback not in names:
                    errors.append(ConfigProblem((*loc, position), _not_a_group(fallback, names)))
                elif fallback == group:
                    message = "a group cannot fall back to itself"
                    errors.append(ConfigProblem((*loc, position), message))
    return errors


def env_providers(providers: Mapping[str, Provider], environment: Mapping[str, str]) -> list[str]:
    """The providers whose credentials are all in the environment."""
    return [
        name
        for name, provider in providers.items()
        if provider.spec.env and all(environment.get(var) for var in provider.spec.env.values())
    ]


def env_entries(
    providers: Mapping[str, Provider],
    environment: Mapping[str, str],
    taken: set[str],
    served: set[tuple[str, str]] | None = None,
) -> list[DeploymentEntry]:
    """Deployments for providers whose credentials are all in the environment.

    Each of the provider's ``auto_models`` is registered as ``<provider>/<model>``, unless
    the config already serves that name (``taken``) or that provider's model (``served``:
    configured ``(provider, model)`` pairs, which keep ``<provider>/<model>`` and the
    built-in aliases).
    """
    entries = []
    for name in env_providers(providers, environment):
        spec = providers[name].spec
        fields: dict[str, Any] = {"api_base": spec.default_api_base, "options": {}}
        for field_name, var in spec.env.items():
            if field_name.startswith("options."):
                fields["options"][field_name.removeprefix("options.")] = environment[var]
            else:
                fields[field_name] = environment[var]
        for model in spec.auto_models:
            if f"{name}/{model}" not in taken and (name, model) not in (served or set()):
                entries.append(
                    DeploymentEntry(
                        model_name=f"{name}/{model}", provider=name, model=model, **fields
                    )
                )
    return entries


def _deployment(
    loc: Loc, entry: DeploymentEntry, providers: Mapping[str, Provider], config: FileConfig
) -> Deployment:
    provider = providers.get(entry.provider)
    if provider is None:
        guess = did_you_mean(entry.provider, providers)
        known = ", ".join(sorted(providers))
        message = f"unknown provider {entry.provider!r}{guess} (known: {known})"
        raise ConfigError([ConfigProblem((*loc, "provider"), message)])
    caps = provider.spec.capabilities_for(entry.model, entry.options)
    if caps is None:
        guess = did_you_mean(entry.model, provider.spec.models)
        known = ", ".join(sorted(provider.spec.models))
        message = (
            f"provider {entry.provider!r} has no model {entry.model!r}{guess} (known: {known})"
        )
        raise ConfigError([ConfigProblem((*loc, "model"), message)])
    api_base = entry.api_base
    if provider.needs_api_base:  # the provider's public endpoint unless the entry names one
        api_base = api_base or provider.spec.default_api_base
    if provider.needs_api_base and not api_base:
        message = f"required for provider {entry.provider!r}"
        raise ConfigError([ConfigProblem((*loc, "api_base"), message)])
    return Deployment(
        id=deployment_id(entry),
        model_name=entry.model_name,
        provider=entry.provider,
        model=entry.model,
        capabilities=caps,
        api_base=api_base.rstrip("/") if api_base else None,
        api_key=entry.api_key,
        weight=entry.weight,
        rpm=entry.rpm,
        max_concurrent_jobs=entry.max_concurrent_jobs,
        max_concurrent_polls=entry.max_concurrent_polls,
        poll_interval_s=entry.poll_interval_s or provider.spec.poll_interval_s,
        timeout_s=entry.timeout_s or config.router.timeout_s,
        job_deadline_s=entry.job_deadline_s
        or config.settings.job_timeout_s
        or provider.spec.job_deadline_s
        or DEFAULT_JOB_DEADLINE_S,
        idempotent_submit=provider.spec.idempotent_submit
        if entry.idempotent_submit is None
        else entry.idempotent_submit,
        options=entry.options,
        pricing=None
        if entry.pricing is None
        else Pricing(**entry.pricing.model_dump(), source="config"),
    )
