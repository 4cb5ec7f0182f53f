"""The option table's checks (``values.OptionSpec``) and how options reach a body."""

from __future__ import annotations

from typing import Any

import pytest

from vidgate.errors import InvalidRequest
from vidgate.providers.toolkit import put_options
from vidgate.request import VideoRequest, resolve
from vidgate.values import ModelCapabilities, OptionSpec, ResolvedRequest

CAPS = ModelCapabilities(
    seconds=(5,),
    default_seconds=5,
    sizes=("1280x720",),
    default_size="1280x720",
    options={
        "strength": OptionSpec("number", minimum=0, maximum=1, upstream="parameters.strength"),
        "steps": OptionSpec("integer", minimum=1, maximum=50),
        "style": OptionSpec("string", choices=("anime", "real")),
        "loop": OptionSpec("boolean"),
        "tags": OptionSpec("array", max_length=2),
        "mode": OptionSpec("string", upstream=""),
        "shout": OptionSpec("string", transform=lambda v: v.upper()),
    },
)


@pytest.mark.parametrize(
    ("spec", "value", "reason"),
    [
        (OptionSpec("number", minimum=0, maximum=1), 2, "expected a number from 0 to 1"),
        (OptionSpec("number"), True, "expected a number"),  # a boolean is not a number
        (OptionSpec("number"), float("nan"), "expected a number"),
        (OptionSpec("integer", minimum=1), 0, "expected an integer of at least 1"),
        (OptionSpec("integer"), 1.5, "expected an integer"),
        (OptionSpec("boolean"), "true", "expected true or false"),
        (OptionSpec("string", choices=("a", "b")), "c", "allowed: a, b"),
        (OptionSpec("array", max_length=2), [1, 2, 3], "expected a list of at most 2 items"),
        (OptionSpec("object"), [], "expected an object"),
    ],
)
def test_values_outside_the_table_say_what_is_allowed(
    spec: OptionSpec, value: Any, reason: str
) -> None:
    with pytest.raises(ValueError, match=reason):
        spec.check(value)


def test_values_inside_the_table_are_normalised() -> None:
    assert OptionSpec("number").check(1) == 1 and OptionSpec("number").check(0.5) == 0.5
    assert OptionSpec("boolean").check(False) is False
    assert OptionSpec("any").check({"x": [1]}) == {"x": [1]}
    assert OptionSpec("string", transform=str.upper).check("ok") == "OK"


def resolved(**options: Any) -> ResolvedRequest:
    return resolve(
        VideoRequest("create", "p", options=options), CAPS, model_name="m", upstream_model="m"
    )


def test_resolve_applies_the_table_and_names_the_field() -> None:
    with pytest.raises(InvalidRequest) as caught:
        resolved(strength=3)
    error = caught.value
    assert error.param == "metadata.strength" and error.code == "invalid_value"
    assert (
        error.message == "Invalid value for 'metadata.strength': 3; expected a number from 0 to 1."
    )
    assert resolved(shout="hey").options == {"shout": "HEY"}
    with pytest.raises(InvalidRequest) as unknown:
        resolved(color="red")
    assert unknown.value.code == "unknown_parameter"


def test_put_options_writes_where_the_table_says() -> None:
    request = resolved(strength=0.5, steps=3, mode="fast", loop=True, tags=["a"])
    body: dict[str, Any] = {"prompt": "p", "parameters": {"seed": 1}}
    put_options(body, request, CAPS)
    assert body == {
        "prompt": "p",
        "parameters": {"seed": 1, "strength": 0.5},  # dotted: nested
        "steps": 3,
        "loop": True,
        "tags": ["a"],
    }  # "mode" has upstream "": the adapter reads it itself


def test_free_form_models_forward_unknown_keys() -> None:
    free = ModelCapabilities(
        seconds=(5,), default_seconds=5, sizes=("1280x720",), default_size="1280x720",
        any_options=True,
    )  # fmt: skip
    request = resolve(
        VideoRequest("create", "p", options={"anything": [1]}),
        free,
        model_name="m",
        upstream_model="m",
    )
    body: dict[str, Any] = {}
    put_options(body, request, free)
    assert body == {"anything": [1]} and free.any_options


def test_null_means_not_given_and_values_are_shown_as_json() -> None:
    assert resolved(strength=None, loop=None).options == {}
    with pytest.raises(InvalidRequest) as caught:
        resolved(loop="yes")
    assert caught.value.message == (
        "Invalid value for 'metadata.loop': \"yes\"; expected true or false."
    )
    assert resolved(strength=1).options == {"strength": 1.0}  # a number is a float upstream


def test_free_form_keys_are_never_split_into_paths() -> None:
    """A dotted key must not reach into fields the adapter writes (``video.id``)."""
    free = ModelCapabilities(
        seconds=(5,), default_seconds=5, sizes=("1280x720",), default_size="1280x720",
        any_options=True,
    )  # fmt: skip
    request = resolve(
        VideoRequest("create", "p", options={"video.id": "someone-else", "prompt.x": 1}),
        free,
        model_name="m",
        upstream_model="m",
    )
    body: dict[str, Any] = {"prompt": "p", "video": {"id": "mine"}}
    put_options(body, request, free)
    assert body == {
        "prompt": "p",
        "video": {"id": "mine"},
        "video.id": "someone-else",
        "prompt.x": 1,
    }
