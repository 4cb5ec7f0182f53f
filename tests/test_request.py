"""VideoRequest parsing and resolution against capabilities (no HTTP)."""

from __future__ import annotations

import dataclasses

import pytest

from vidgate.errors import InvalidRequest, UnsupportedOperation
from vidgate.request import (
    Upload,
    parse_request,
    resolve,
    resolved_from_json,
    resolved_to_json,
    unflatten,
)
from vidgate.values import Asset, ModelCapabilities, OptionSpec

CAPS = ModelCapabilities(
    seconds=(4, 8),
    default_seconds=4,
    sizes=("1280x720", "720x1280"),
    default_size="720x1280",
    image_roles=frozenset({"first_frame"}),
    operations=frozenset({"create", "extend"}),
    options={"mode": OptionSpec()},
)


def test_unflatten_brackets_and_dotted_reference() -> None:
    flat = {
        "prompt": "p",
        "input_reference[image_url]": "u",
        "video[id]": "v",
        "input_reference.0": "f",
    }
    assert unflatten({k: v for k, v in flat.items() if k != "input_reference.0"}) == {
        "prompt": "p",
        "input_reference": {"image_url": "u"},
        "video": {"id": "v"},
    }
    assert unflatten({"input_reference.0": "f"}) == {"input_reference": "f"}


def test_defaults_are_resolved_explicitly() -> None:
    resolved = resolve(
        parse_request("create", {"prompt": "p"}), CAPS, model_name="m", upstream_model="up"
    )
    assert (resolved.seconds, resolved.size, resolved.fps) == (4, "720x1280", 24)
    assert resolved.upstream_model == "up"


def test_strings_and_numbers_accepted() -> None:
    for seconds in ("8", 8, 8.0, " 8 "):
        request = parse_request("create", {"prompt": "p", "seconds": seconds, "size": "1280X720"})
        resolved = resolve(request, CAPS, model_name="m", upstream_model="u")
        assert (resolved.seconds, resolved.size) == (8, "1280x720")


def test_operation_the_model_lacks_is_a_400_saying_so() -> None:
    request = parse_request("remix", {"prompt": "p"}, source_video_id="video_1")
    with pytest.raises(UnsupportedOperation, match="does not support remix"):
        resolve(request, CAPS, model_name="m", upstream_model="u")


def test_options_validated_per_model() -> None:
    ok = parse_request("create", {"prompt": "p", "metadata": {"mode": "pro"}})
    assert resolve(ok, CAPS, model_name="m", upstream_model="u").options == {"mode": "pro"}
    bad = parse_request("create", {"prompt": "p", "metadata": '{"steps": 4}'})
    with pytest.raises(InvalidRequest, match="Allowed: mode") as caught:
        resolve(bad, CAPS, model_name="m", upstream_model="u")
    assert caught.value.param == "metadata.steps"


def test_seed_needs_a_model_that_takes_it() -> None:
    request = parse_request("create", {"prompt": "p", "seed": 3})
    with pytest.raises(InvalidRequest) as caught:
        resolve(request, CAPS, model_name="m", upstream_model="u")
    assert caught.value.param == "seed"
    seeded = dataclasses.replace(CAPS, seed=True)
    assert resolve(request, seeded, model_name="m", upstream_model="u").seed == 3


def test_fingerprint_compares_uploads_by_content() -> None:
    one = Upload("inputs/a/x.png", "x.png", "image/png", 3, "abc")
    two = Upload("inputs/b/x.png", "x.png", "image/png", 3, "abc")
    other = Upload("inputs/c/x.png", "x.png", "image/png", 3, "def")
    fp = [
        parse_request("create", {"prompt": "p", "input_reference": u}).fingerprint()
        for u in (one, two, other)
    ]
    assert fp[0] == fp[1] != fp[2]


def test_resolved_round_trips_through_json() -> None:
    request = parse_request("create", {"prompt": "p", "input_reference": {"image_url": "data:x"}})
    resolved = resolve(request, CAPS, model_name="m", upstream_model="u")
    assert resolved_from_json(resolved_to_json(resolved)) == resolved
    assert resolved.images[0].asset == Asset("url", "data:x")


def test_canonical_metadata_keys_become_fields() -> None:
    caps = dataclasses.replace(
        CAPS,
        negative_prompt=True,
        audio=False,
        max_reference_images=2,
        image_roles=frozenset({"first_frame", "last_frame", "reference"}),
    )
    body = {
        "prompt": "p",
        "metadata": {
            "negative_prompt": "blur",
            "audio": True,
            "mode": "pro",
            "last_frame": {"image_url": "data:a"},
            "reference_images": ["data:b", {"image_url": "data:c"}],
        },
    }
    resolved = resolve(parse_request("create", body), caps, model_name="m", upstream_model="u")
    assert (resolved.negative_prompt, resolved.audio, resolved.options) == (
        "blur",
        True,
        {"mode": "pro"},
    )
    assert [i.role for i in resolved.images] == ["last_frame", "reference", "reference"]
    assert resolved.image("last_frame") == Asset("url", "data:a")
    assert (
        resolve(
            parse_request("create", {"prompt": "p"}), caps, model_name="m", upstream_model="u"
        ).audio
        is False
    )  # the model's default


@pytest.mark.parametrize(
    ("metadata", "param"),
    [
        ({"negative_prompt": "x"}, "metadata.negative_prompt"),
        ({"audio": True}, "metadata.audio"),
        ({"last_frame": "data:x"}, "metadata.last_frame"),
        ({"reference_images": ["data:x"]}, "metadata.reference_images"),
        ({"audio": "yes"}, "metadata.audio"),
    ],
)
def test_canonical_keys_the_model_cannot_take(metadata: dict[str, object], param: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        resolve(
            parse_request("create", {"prompt": "p", "metadata": metadata}),
            CAPS,
            model_name="m",
            upstream_model="u",
        )
    assert caught.value.param == param


def test_error_messages_never_carry_urls() -> None:
    from vidgate.errors import UpstreamError, client_text

    error = UpstreamError(
        "fetch https://cdn.upstream.example/v.mp4?sig=abc failed; "
        "see gs://bucket/o and data:image/png;base64,AAAA"
    )
    assert "upstream.example" not in error.message and "sig=abc" not in error.message
    assert error.message == "fetch <url> failed; see <url> and <url>"
    assert client_text("plain words, no links") == "plain words, no links"


def test_option_synonyms_take_the_models_name_without_touching_the_request() -> None:
    caps = dataclasses.replace(CAPS, options={"prompt_optimizer": OptionSpec()})
    request = parse_request("create", {"prompt": "x", "metadata": {"enhance_prompt": False}})
    resolved = resolve(request, caps, model_name="m", upstream_model="u")
    assert resolved.options == {"prompt_optimizer": False}
    assert request.options == {"enhance_prompt": False}  # a fallback model gets its own name
    both = parse_request(
        "create", {"prompt": "x", "metadata": {"enhance_prompt": 1, "prompt_optimizer": 2}}
    )
    with pytest.raises(InvalidRequest, match="enhance_prompt") as caught:
        resolve(both, caps, model_name="m", upstream_model="u")
    assert caught.value.param == "metadata.enhance_prompt"


def test_size_from_resolution_and_aspect_ratio() -> None:
    caps = dataclasses.replace(CAPS, sizes=("1366x768", "768x1366", "1920x1080"))
    caps = dataclasses.replace(caps, default_size="1366x768")

    def size(**body: object) -> str:
        request = parse_request("create", {"prompt": "x", **body})
        return resolve(request, caps, model_name="m", upstream_model="u").size

    assert size(resolution="768P") == "1366x768"
    assert size(aspect_ratio="9:16") == "768x1366"
    assert size(resolution="1080p", aspect_ratio="16:9") == "1920x1080"
    with pytest.raises(InvalidRequest, match="resolutions 768p, 1080p") as caught:
        size(resolution="1080p", aspect_ratio="9:16")
    assert caught.value.param == "resolution"
