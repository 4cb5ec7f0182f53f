"""Model names as users write them: provider-prefixed, built-in and configured aliases."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support import running_gateway
from vidgate.providers.registry import PROVIDERS
from vidgate.routing.aliases import builtin_aliases, foreign_names, resolve_aliases, vendor_paths
from vidgate.routing.config import build_table
from vidgate.settings import ConfigError, DeploymentEntry, FileConfig


def test_provider_prefixed_names_and_builtin_aliases() -> None:
    groups = {
        "veo": [("gemini", "veo-3.1-generate-preview")],
        "kling": [("kling", "kling-v2-1"), ("kling", "kling-v2-6")],
        "a": [("openai", "sora-2")],
        "b": [("openai", "sora-2")],  # ambiguous: no alias
    }
    aliases = resolve_aliases(groups, {"fast": "a"}, builtin_aliases(PROVIDERS))
    assert aliases["gemini/veo-3.1-generate-preview"] == "veo"
    assert aliases["veo3"] == "veo" and aliases["kling-video"] == "kling"
    assert "openai/sora-2" not in aliases and "sora" not in aliases
    assert aliases["fast"] == "a"
    assert "hailuo-video" not in aliases  # no minimax deployment


def test_a_group_name_wins_and_bad_targets_are_config_errors() -> None:
    entry = DeploymentEntry(model_name="veo3", provider="local", model="preview")
    table = build_table(FileConfig(model_list=[entry]), PROVIDERS)
    assert table.resolve("veo3") == "veo3" and table.resolve("local/preview") == "veo3"
    with pytest.raises(ConfigError, match=r"model_aliases\.x: 'nope' is not a model_name"):
        build_table(FileConfig(model_list=[entry], model_aliases={"x": "nope"}), PROVIDERS)


def test_aliases_through_the_api(tmp_path: Path) -> None:
    config = {
        "model_list": [{"model_name": "preview", "provider": "local", "model": "preview"}],
        "model_aliases": {"draft": "preview"},
    }
    with running_gateway(tmp_path / "gw", config, run_poller=False) as gw:
        models = {m["id"]: m for m in gw.sdk().models.list().model_dump()["data"]}
        assert models["preview"]["alias_for"] is None
        assert models["draft"]["alias_for"] == "preview"
        assert models["local/preview"]["alias_for"] == "preview"
        key = gw.new_key(models=["draft"])  # an alias grants its group
        with gw.http(key) as http:
            for name in ("draft", "local/preview", "preview"):
                body = {"model": name, "prompt": "x", "seconds": "1", "size": "640x360"}
                response = http.post("/v1/videos", json=body)
                assert response.status_code == 200, response.text
                assert response.json()["model"] == "preview"
            listed = {m["id"] for m in http.get("/v1/models").json()["data"]}
        assert listed == {"preview", "draft", "local/preview"}


def test_the_specs_declare_the_names_the_gateway_knows() -> None:
    """The built-in aliases and aimlapi's names, as the specs declare them, merged in the
    registry's order (gemini before vertex_ai, openai before azure)."""
    builtin = builtin_aliases(PROVIDERS)
    assert builtin["veo3"] == ("gemini/veo-3.1-generate-preview", "vertex_ai/veo-3.1-generate-001")
    assert builtin["sora"] == ("openai/sora-2", "azure/sora-2")
    assert builtin["kling-video"] == ("kling/kling-v2-6", "kling/kling-v2-1", "kling/kling-v3")
    assert set(builtin) == {
        "veo3", "veo-3", "sora", "kling-video", "hailuo-video", "seedance-video",
        "wan-video", "vidu-video", "runway-video", "luma-video", "grok-video",
    }  # fmt: skip
    for alias, candidates in builtin.items():  # every candidate is a model its spec serves
        for candidate in candidates:
            provider, model = candidate.split("/", 1)
            assert PROVIDERS[provider].spec.capabilities(model) is not None, (alias, candidate)
    names = foreign_names(PROVIDERS)
    assert names["google/veo-3.1-t2v"].models == (
        "gemini/veo-3.1-generate-preview",
        "vertex_ai/veo-3.1-generate-001",
    )
    assert names["video-01"].image_models == ("minimax/I2V-01",)
    assert names["kling-video/v1.6/pro/image-to-video"].resolution == "1080p"
    assert names["kling-video/v1.6/standard/text-to-video"].resolution is None
    for meaning in names.values():
        for candidate in meaning.models + meaning.image_models:
            provider, model = candidate.split("/", 1)
            assert PROVIDERS[provider].spec.capabilities(model) is not None, candidate
    assert vendor_paths(PROVIDERS) == {
        "minimax": "video-01",
        "kling": "kling-video",
        "google": "veo3",
        "luma-ai": "luma-video",
        "luma": "luma-video",
        "runway": "runway-video",
    }
