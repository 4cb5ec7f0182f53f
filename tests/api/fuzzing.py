"""Plumbing of ``test_fuzz.py``: adversarial JSON texts, strategies drawn from ``/openapi.json``
schemas, and a client that checks every answer (no 5xx, the OpenAI error envelope on every
4xx, one keep-alive connection for the whole run).

Values are raw JSON *texts*, not Python objects: ``json.dumps`` cannot write ``1e400``, a
lone surrogate escape or a 5,000-digit integer (Python refuses to print one), and those are
exactly what a hostile client sends.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import httpx
from hypothesis import strategies as st

HUGE_DIGITS = "9" * 5000
DEEP = "[" * 100_000 + "]" * 100_000
MEGABYTE = "x" * 1_000_000
NUMBERS: tuple[str, ...] = (
    HUGE_DIGITS,
    "-" + HUGE_DIGITS,
    "1e400",
    "NaN",
    "-Infinity",
    "9223372036854775808",  # 2**63
    "-9223372036854775809",
    "18446744073709551616",  # 2**64
    "2147483648",  # 2**31
    "1e308",
    "1e-400",
    "-1",
    "0",
    "4.5",
)
TEXTS: tuple[str, ...] = (
    '"\\ud800"',
    '"a\\u0000b"',
    f'"{MEGABYTE}"',
    f'"{HUGE_DIGITS}"',
    '"a\\udfffb"',
    '"\\ud800\\udc00"',  # a valid pair: fine
    '""',
    '" "',
    '"-1"',
    '"1e400"',
    '"\\u00b2"',  # '²': str.isdigit() but not int()
    '"\\uff19"',  # fullwidth 9
    '"%s%n{0}"',
    f'"{DEEP}"',  # deep nesting inside a string that may be parsed as JSON
    '"{\\"a\\": 1e400}"',
    f'"{{\\"a\\": {HUGE_DIGITS}}}"',
    '"{\\"\\\\ud800\\": 1}"',
)
SHAPES: tuple[str, ...] = (
    "true",
    "null",
    "[]",
    "{}",
    DEEP,
    '{"a": {"b": [1e400, "\\ud800"]}}',
    '["\\ud800", NaN]',
)
ATOMS = NUMBERS + TEXTS + SHAPES
"""Raw JSON values: huge and negative integers, non-finite floats, lone surrogates, NUL,
deep nesting, wrong types, empty and huge strings, and JSON-in-a-string variants of each."""

FORM_ATOMS: tuple[bytes, ...] = (
    b"",
    b"a\x00b",
    b"\xed\xa0\x80",  # a UTF-8-encoded lone surrogate (invalid UTF-8)
    b"\xff\xfe",
    HUGE_DIGITS.encode(),
    b"1e400",
    "\u00b2".encode(),
    DEEP.encode(),
    b'{"a": 1e400}',
    b'{"a": ' + HUGE_DIGITS.encode() + b"}",
    b'{"\\ud800": 1}',
    MEGABYTE.encode(),
)
"""Multipart field values (bytes: a form can carry invalid UTF-8)."""

FILES: tuple[bytes, ...] = (b"", b"\x00" * 64, b"\x89PNG\r\n\x1a\n" + b"\x00" * 32, b"GIF8" * 4)
"""File parts: empty, garbage, a truncated PNG header, a GIF (not an accepted type)."""

QUERY_ATOMS: tuple[str, ...] = (
    HUGE_DIGITS,
    "-" + HUGE_DIGITS,
    "-1",
    "0",
    "1e400",
    "NaN",
    "%00",
    "%ED%A0%80",
    "%FF%FE",
    "%C2%B2",  # '²'
    "%EF%BC%99",  # fullwidth 9
    "a%00b",
    "x" * 4000,
    "9223372036854775808",
    "%5B" * 2000,
    "2026-13-45",
    "9999-12-31T23:59:59%2B99:00",
    "0001-01-01",
)
"""Query values, already percent-encoded (some encode invalid UTF-8)."""

HEADER_ATOMS: tuple[bytes, ...] = (
    b"",
    b"x" * 4000,
    HUGE_DIGITS[:4000].encode(),
    b"\xff\xfe",
    b"a\tb",
)


HOSTILE_KEYS = (
    "not_a_field",
    "\ud800",
    "prompt\x00",
    "a" * 10_000,
    "__proto__",
    "",
    "ключ",
    "a\r\nb",
)
"""Keys no body takes (written with ``json.dumps``: the surrogate as an escape)."""


def sweep_values(schema: dict[str, Any], doc: dict[str, Any]) -> list[str]:
    """The values a sweep gives one field: every shape, every number or text aimed at its
    type (the first few of the other kind: a wrong type), and its near misses."""
    kinds = {variant.get("type") for variant in _variants(schema, doc)}
    numbers = NUMBERS if kinds & {"integer", "number"} else NUMBERS[:4]
    texts = TEXTS if "string" in kinds else TEXTS[:4]
    return [*SHAPES, *numbers, *texts, *near_misses(schema, doc)]


def resolve(schema: dict[str, Any], doc: dict[str, Any]) -> dict[str, Any]:
    """``schema`` with a top-level ``$ref`` followed."""
    while "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[1]
        schema = doc["components"]["schemas"][name]
    return schema


def _variants(schema: dict[str, Any], doc: dict[str, Any]) -> list[dict[str, Any]]:
    schema = resolve(schema, doc)
    options = schema.get("anyOf") or schema.get("oneOf")
    if options:
        return [v for option in options for v in _variants(option, doc)]
    return [schema]


def properties(schema: dict[str, Any], doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The properties of every object form of ``schema``."""
    found: dict[str, dict[str, Any]] = {}
    for variant in _variants(schema, doc):
        found.update(variant.get("properties", {}))
    return found


def near_misses(schema: dict[str, Any], doc: dict[str, Any]) -> list[str]:
    """Values just outside what ``schema`` allows: an enum value with a NUL or changed, one
    past a bound, an example with a NUL appended."""
    out: list[str] = []
    for variant in _variants(schema, doc):
        for value in variant.get("enum", []) + ([variant["const"]] if "const" in variant else []):
            out += [json.dumps(f"{value}\0"), json.dumps(str(value).upper() + "X")]
        if "minimum" in variant:
            out.append(str(variant["minimum"] - 1))
        if "maximum" in variant:
            out.append(str(variant["maximum"] + 1))
        if "maxLength" in variant:
            out.append(json.dumps("y" * (variant["maxLength"] + 1)))
        for example in variant.get("examples", [])[:1]:
            out.append(json.dumps(f"{example}\0"))
    return out


def render(items: dict[str, str]) -> str:
    """A JSON object of raw JSON values."""
    return "{" + ",".join(f"{json.dumps(k)}:{v}" for k, v in items.items()) + "}"


def values(schema: dict[str, Any], doc: dict[str, Any], depth: int = 0) -> st.SearchStrategy[str]:
    """Raw JSON values aimed at ``schema``: any adversarial atom, a near miss, or — for
    objects and arrays — the same one level down."""
    options: list[st.SearchStrategy[str]] = [st.sampled_from(ATOMS)]
    near = near_misses(schema, doc)
    if near:
        options.append(st.sampled_from(near))
    props = properties(schema, doc)
    if props and depth < 3:
        options.append(bodies({}, props, doc, depth + 1))
    for variant in _variants(schema, doc):
        if variant.get("type") == "array" and "items" in variant and depth < 3:
            items = values(variant["items"], doc, depth + 1)
            options.append(st.lists(items, max_size=3).map(lambda xs: "[" + ",".join(xs) + "]"))
    return st.one_of(options)


def bodies(
    base: dict[str, Any], props: dict[str, dict[str, Any]], doc: dict[str, Any], depth: int = 0
) -> st.SearchStrategy[str]:
    """``base`` with one or two of ``props`` set to adversarial values, sometimes with an
    unknown or hostile key too."""
    names = sorted(props)

    def build(chosen: list[str]) -> st.SearchStrategy[str]:
        drawn = st.fixed_dictionaries({n: values(props[n], doc, depth) for n in chosen})
        extra = st.one_of(
            st.just({}),
            st.tuples(st.sampled_from(HOSTILE_KEYS), st.sampled_from(ATOMS)).map(
                lambda kv: {kv[0]: kv[1]}
            ),
        )
        return st.tuples(drawn, extra).map(
            lambda pair: render(
                {**{k: json.dumps(v) for k, v in base.items()}, **pair[0], **pair[1]}
            )
        )

    return st.lists(st.sampled_from(names), min_size=1, max_size=2, unique=True).flatmap(build)


def multipart(fields: list[tuple[str, bytes, bool]]) -> tuple[bytes, str]:
    """A multipart body of (name, value, is_file) parts, written by hand so values may be
    any bytes."""
    boundary = "vidgatefuzzboundary7e3"
    out = b""
    for name, value, is_file in fields:
        disposition = f'form-data; name="{name}"'
        if is_file:
            disposition += '; filename="f.bin"\r\nContent-Type: application/octet-stream'
        out += f"--{boundary}\r\nContent-Disposition: {disposition}\r\n\r\n".encode()
        out += value + b"\r\n"
    out += f"--{boundary}--\r\n".encode()
    return out, f"multipart/form-data; boundary={boundary}"


def envelope_problem(response: httpx.Response) -> str | None:
    """Why a 4xx answer is not the OpenAI error envelope, or ``None``."""
    try:
        body = response.json()
    except ValueError:
        return "not JSON"
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        return "no 'error' object"
    if not isinstance(error.get("message"), str) or not isinstance(error.get("type"), str):
        return "'message' or 'type' is not a string"
    for key in ("param", "code"):
        if key not in error or not (error[key] is None or isinstance(error[key], str)):
            return f"'{key}' is missing or not a string or null"
    return None


@dataclass
class Fuzzer:
    """Sends requests over one keep-alive connection and keeps count of what came back."""

    client: httpx.Client
    sent: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)
    connections: set[Any] = field(default_factory=set)
    last: str = ""
    seconds: Counter[str] = field(default_factory=Counter)
    created: Counter[str] = field(default_factory=Counter)

    def send(
        self,
        method: str,
        url: str,
        content: bytes | str | None = None,
        ctype: str = "application/json",
        headers: dict[str, Any] | None = None,
    ) -> httpx.Response | None:
        sent_headers = (
            {"Content-Type": ctype, **(headers or {})} if content is not None else headers
        )
        what = f"{method} {url[:120]} {_excerpt(content)}"
        self.sent += 1
        route = f"{method} {url.split('?')[0][:40]}"
        started = time.monotonic()
        try:
            response = self.client.request(method, url, content=content, headers=sent_headers)
            self.seconds[route] += time.monotonic() - started
        except httpx.TransportError as exc:  # the previous answer dropped the connection
            self.failures.append(f"{type(exc).__name__} ({exc}) on {what}; before: {self.last}")
            self.statuses[0] += 1
            return None
        self.last = what
        self.statuses[response.status_code] += 1
        if response.status_code == 200 and method == "POST":
            self.created[route] += 1
        try:
            self.connections.add(
                response.extensions["network_stream"].get_extra_info("client_addr")
            )
        except OSError:  # the server closed it
            self.failures.append(f"{response.status_code} connection closed: {what}")
        if response.status_code >= 500:
            self.failures.append(f"{response.status_code} {what} -> {response.text[:200]}")
        elif response.status_code >= 400 and method != "HEAD":
            problem = envelope_problem(response)
            if problem:
                self.failures.append(f"{response.status_code} not an envelope ({problem}): {what}")
        return response

    def summary(self) -> str:
        return f"{self.sent} requests, statuses {dict(sorted(self.statuses.items()))}"


def _excerpt(content: bytes | str | None) -> str:
    if content is None:
        return ""
    text = content if isinstance(content, str) else content.decode("utf-8", "replace")
    text = text.replace("\r\n", "|").replace("\n", "|")
    return text if len(text) <= 160 else f"{text[:100]}...({len(text)} chars)...{text[-40:]}"
