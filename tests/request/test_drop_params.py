"""``drop_params`` in parsing, resolution and a remix's length, without HTTP: what is
dropped, what is never dropped, and that leniency is not part of the idempotency
fingerprint (``tests/api/test_drop_params.py`` drives the same through the gateway)."""

from __future__ import annotations

from typing import Any

import pytest

from vidgate.errors import InvalidRequest
from vidgate.jobs.placements import _remix_length
from vidgate.request import parse_request, resolve, resolved_from_json, resolved_to_json
from vidgate.values import ModelCapabilities, OptionSpec

ONE_FPS = ModelCapabilities(
    seconds=(4, 8),
    default_seconds=4,
    sizes=("1280x720",),
    default_size="1280x720",
    operations=frozenset({"create", "remix"}),
    options={"mode": OptionSpec(choices=("std", "pro"))},
)
MANY_FPS = ModelCapabilities(
    seconds=(4, 8),
    default_seconds=4,
    sizes=("1280x720",),
    default_size="1280x720",
    fps=(24, 30),
    seed=True,
    negative_prompt=True,
    audio=False,
    operations=frozenset({"create", "remix"}),
    remix_seconds=True,
)
BODY: dict[str, Any] = {
    "prompt": "p",
    "seed": 5,
    "fps": 30,
    "metadata": {"negative_prompt": "fog", "audio": True, "style": "noir", "mode": "pro"},
}


def resolved(body: dict[str, Any], caps: ModelCapabilities, **kwargs: Any) -> Any:
    request = parse_request("create", body, **kwargs)
    return resolve(request, caps, model_name="m", upstream_model="m")


@pytest.mark.parametrize(
    ("sent", "default", "lenient"),
    [(None, False, False), (None, True, True), (True, False, True), (False, True, False),
     ("true", False, True), (" FALSE ", True, False), ("", True, True)],
)  # fmt: skip
def test_the_request_field_wins_over_the_callers_default(
    sent: Any, default: bool, lenient: bool
) -> None:
    body = {"prompt": "p"} if sent is None else {"prompt": "p", "drop_params": sent}
    assert parse_request("create", body, drop_params=default).drop_params is lenient


@pytest.mark.parametrize("value", ["yes", 1, 0, [], {}])
def test_drop_params_is_true_or_false(value: Any) -> None:
    with pytest.raises(InvalidRequest) as info:
        parse_request("create", {"prompt": "p", "drop_params": value})
    assert info.value.param == "drop_params" and "Allowed: true, false" in info.value.message


def test_strict_refuses_lenient_drops_what_the_model_does_not_take() -> None:
    with pytest.raises(InvalidRequest) as info:
        resolved(BODY, ONE_FPS)
    assert info.value.param == "fps"
    request = resolved(BODY, ONE_FPS, drop_params=True)
    assert request.dropped == ("seed", "fps", "metadata.negative_prompt", "metadata.audio",
                               "metadata.style")  # fmt: skip
    assert (request.seed, request.fps, request.negative_prompt, request.audio) == (
        None, 24, None, None
    )  # fmt: skip
    assert request.options == {"mode": "pro"}
    assert resolved_from_json(resolved_to_json(request)).dropped == request.dropped


def test_what_a_model_takes_is_kept_and_what_it_cannot_is_still_a_400() -> None:
    kept = resolved({**BODY, "metadata": {"negative_prompt": "fog"}}, MANY_FPS, drop_params=True)
    assert (kept.dropped, kept.seed, kept.fps, kept.negative_prompt) == ((), 5, 30, "fog")
    for change, param in (
        ({"fps": 13}, "fps"),  # several frame rates: 13 is out of range, not unsupported
        ({"seconds": 7}, "seconds"),
        ({"size": "640x360"}, "size"),
        ({"metadata": {"mode": "turbo"}}, "metadata.mode"),
    ):
        caps = ONE_FPS if param == "metadata.mode" else MANY_FPS
        with pytest.raises(InvalidRequest) as info:
            resolved({"prompt": "p", **change}, caps, drop_params=True)
        assert info.value.param == param


def test_dropped_fields_are_named_as_sent() -> None:
    body = {"prompt": "p", "parameters_style": 1}
    names = {"metadata.style": "parameters.style", "seconds": "duration"}
    request = parse_request(
        "create", {"prompt": "p", "metadata": {"style": 1}}, names=names, drop_params=True
    )
    assert resolve(request, ONE_FPS, model_name="m", upstream_model="m").dropped == (
        "parameters.style",
    )
    with pytest.raises(InvalidRequest) as info:  # a typo is never dropped
        parse_request("create", body, drop_params=True)
    assert info.value.code == "unknown_parameter"


def test_fields_of_other_operations_are_dropped_but_never_prompt_model_or_images() -> None:
    remix = parse_request("remix", {"prompt": "p", "seed": 1, "size": "1x1"}, drop_params=True)
    assert (remix.dropped, remix.seed, remix.size) == (["seed", "size"], None, None)
    for field in ("model", "input_reference", "images"):
        with pytest.raises(InvalidRequest) as info:
            parse_request("remix", {"prompt": "p", field: "x"}, drop_params=True)
        assert info.value.param == field


def test_leniency_is_not_part_of_the_fingerprint() -> None:
    strict = parse_request("create", BODY)
    lenient = parse_request("create", {**BODY, "drop_params": True})
    assert strict.fingerprint() == lenient.fingerprint()
    assert strict.fingerprint() != parse_request("create", {**BODY, "seed": 6}).fingerprint()


def test_a_remix_keeps_its_source_length_unless_the_model_can_set_one() -> None:
    same = parse_request("remix", {"prompt": "p", "seconds": "4"})
    assert _remix_length(same, ONE_FPS, "m", 4)[1] == 4
    other = parse_request("remix", {"prompt": "p", "seconds": 8})
    with pytest.raises(InvalidRequest) as info:
        _remix_length(other, ONE_FPS, "m", 4)
    assert info.value.param == "seconds"
    assert "allowed: 4 (the source video's length)" in info.value.message
    lenient = parse_request("remix", {"prompt": "p", "seconds": 8}, drop_params=True)
    request, length = _remix_length(lenient, ONE_FPS, "m", 4)
    assert (request.dropped, length) == (["seconds"], 4)
    assert _remix_length(other, MANY_FPS, "m", 4)[1] == 8
    with pytest.raises(InvalidRequest) as info:
        _remix_length(parse_request("remix", {"prompt": "p", "seconds": 5}), MANY_FPS, "m", 4)
    assert "remixes at: 4, 8" in info.value.message
