"""Providers whose credentials are in the environment are registered without config."""

from __future__ import annotations

import dataclasses

from vidgate.providers.base import Provider, ProviderSpec
from vidgate.providers.registry import PROVIDERS
from vidgate.routing.config import build_table
from vidgate.settings import DeploymentEntry, FileConfig
from vidgate.values import ModelCapabilities

CAPS = ModelCapabilities(
    seconds=(4,), default_seconds=4, sizes=("1280x720",), default_size="1280x720"
)
SPEC = ProviderSpec(
    name="fake",
    description="",
    models={"m1": CAPS, "m2": CAPS},
    status_map={},
    env={"api_key": "FAKE_KEY", "options.region": "FAKE_REGION"},
    auto_models=("m1", "m2"),
    default_api_base="https://fake.invalid/v1",
)
PROVIDERS_WITH_FAKE = {**PROVIDERS, "fake": Provider(spec=SPEC, adapter=None)}


def test_registered_when_every_variable_is_set() -> None:
    env = {"FAKE_KEY": "secret", "FAKE_REGION": "eu"}
    table = build_table(FileConfig(), PROVIDERS_WITH_FAKE, env)
    (deployment,) = table.group("fake/m1")
    assert (deployment.api_key, deployment.api_base) == ("secret", "https://fake.invalid/v1")
    assert deployment.options == {"region": "eu"} and table.group("fake/m2")
    assert table.default_model == "local/preview"


def test_not_registered_when_a_variable_is_missing_or_the_name_is_taken() -> None:
    assert not build_table(FileConfig(), PROVIDERS_WITH_FAKE, {"FAKE_KEY": "s"}).group("fake/m1")
    mine = DeploymentEntry(model_name="fake/m1", provider="local", model="preview")
    table = build_table(
        FileConfig(model_list=[mine]), PROVIDERS_WITH_FAKE, {"FAKE_KEY": "s", "FAKE_REGION": "eu"}
    )
    assert [d.provider for d in table.group("fake/m1")] == ["local"]
    assert [d.provider for d in table.group("fake/m2")] == ["fake"]


def test_spec_without_env_is_never_auto_registered() -> None:
    quiet = {**PROVIDERS, "fake": Provider(spec=dataclasses.replace(SPEC, env={}))}
    assert not build_table(FileConfig(), quiet, {"FAKE_KEY": "s"}).group("fake/m1")


def test_a_configured_entry_defaults_to_the_providers_endpoint() -> None:
    entry = DeploymentEntry(model_name="x", provider="fake", model="m1", api_key="k")
    (deployment,) = build_table(FileConfig(model_list=[entry]), PROVIDERS_WITH_FAKE).group("x")
    assert deployment.api_base == "https://fake.invalid/v1"
    vertex = DeploymentEntry(model_name="v", provider="vertex_ai", model="veo-3.1-generate-001")
    (deployment,) = build_table(FileConfig(model_list=[vertex]), PROVIDERS).group("v")
    assert deployment.api_base is None  # Vertex derives its host from options.location
