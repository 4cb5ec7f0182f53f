"""JSON decoding that only lets through values every later layer can store and echo.

``json.loads`` accepts things no database column, JSON response or text encoder takes:
5,000-digit integers (``ValueError`` from Python's int-string limit), ``1e400`` and
``NaN``/``Infinity`` (non-finite floats that break ``json.dumps`` on the way out, forever,
once stored), lone surrogate escapes (``"\\ud800"``, which no UTF-8 encoder accepts) and
NUL characters (PostgreSQL text refuses them), and nesting deep enough to exhaust the
recursion limit. ``loads`` turns each into a 400 that names the field (``metadata.x``,
``content[1].text``), before anything is stored.

Integers are kept within the signed 64-bit range, what SQLite and PostgreSQL ``BIGINT`` hold;
routes narrow further where a column is smaller. ``check`` applies the same rules to a
mapping built elsewhere (multipart fields).
"""

from __future__ import annotations

import json
import math
from typing import Any

from vidgate.errors import InvalidRequest

MAX_DEPTH = 32
"""Objects and arrays nested deeper than this are refused (real bodies use 3-4 levels)."""
MAX_INT = 2**63 - 1
_MAX_INT_DIGITS = 19


class _HugeInt(str):
    """A JSON integer too long to convert; reported by ``check`` with its field."""


def _parse_int(text: str) -> int | _HugeInt:
    if len(text.lstrip("-")) > _MAX_INT_DIGITS:
        return _HugeInt(text)
    return int(text)


def _parse_constant(name: str) -> float:
    return float(name)  # NaN, Infinity, -Infinity: refused by ``check`` with the field


def loads(raw: bytes | bytearray | str, path: str = "") -> Any:
    """``raw`` decoded; ``InvalidRequest`` for anything that is not storable JSON (code
    ``invalid_json`` when it is not JSON at all). ``path`` names where ``raw`` came from
    (``metadata`` for a JSON string in that form field), for the fields in errors."""
    try:
        value = json.loads(raw, parse_int=_parse_int, parse_constant=_parse_constant)
    except RecursionError:
        raise _too_deep(path or None) from None
    except (ValueError, UnicodeDecodeError):  # JSONDecodeError is a ValueError
        what = f"'{path}'" if path else "The request body"
        raise InvalidRequest(f"{what} is not valid JSON.", code="invalid_json") from None
    check(value, path)
    return value


def check(value: Any, path: str = "") -> None:
    """Walks ``value`` (iteratively) and raises ``InvalidRequest`` naming the first bad field."""
    stack: list[tuple[Any, str, int]] = [(value, path, 0)]
    while stack:
        item, path, depth = stack.pop()
        if isinstance(item, str):
            _check_text(item, path)
        elif isinstance(item, bool) or item is None:
            continue
        elif isinstance(item, int):
            if not -MAX_INT <= item <= MAX_INT:
                raise _out_of_range(path)
        elif isinstance(item, float):
            if not math.isfinite(item):
                raise _bad(path, "a finite number (not NaN or infinity)")
        elif isinstance(item, dict):
            if depth >= MAX_DEPTH:
                raise _too_deep(path)
            for key, child in item.items():
                child_path = f"{path}.{key}" if path else str(key)
                _check_text(str(key), path or "body")
                stack.append((child, child_path, depth + 1))
        elif isinstance(item, list | tuple):
            if depth >= MAX_DEPTH:
                raise _too_deep(path)
            stack.extend((child, f"{path}[{i}]", depth + 1) for i, child in enumerate(item))


def _check_text(text: str, path: str) -> None:
    if isinstance(text, _HugeInt):
        raise _out_of_range(path)
    if "\x00" in text:
        raise _bad(path, "text without NUL characters")
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            raise _bad(path, "valid Unicode text (it contains a lone surrogate)") from None


def _out_of_range(path: str) -> InvalidRequest:
    return _bad(path, f"an integer between -{MAX_INT} and {MAX_INT}")


def _bad(path: str, wanted: str) -> InvalidRequest:
    name = path or "body"
    return InvalidRequest(
        f"Invalid value for '{name}': expected {wanted}.", param=path or None, code="invalid_value"
    )


def _too_deep(path: str | None) -> InvalidRequest:
    where = f" at '{path}'" if path else ""
    return InvalidRequest(
        f"The request body is nested too deeply{where}; at most {MAX_DEPTH} levels are allowed.",
        param=path or None,
        code="invalid_json",
    )
