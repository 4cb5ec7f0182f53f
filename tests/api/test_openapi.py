"""``/openapi.json`` is a valid OpenAPI document that describes what every route reads.

The routes parse bodies and query strings themselves, so FastAPI cannot know what they read;
the second test finds out from the code instead — every call a route makes (through helper
functions of ``vidgate.api``) to ``read_fields``, to ``query_params``/``query`` getters and to
``request.headers.get`` — and checks the document describes each of them, and describes no
query parameter the route never reads.
"""

from __future__ import annotations

import ast
import inspect
import re
import textwrap
import types
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from fastapi.routing import APIRoute, iter_route_contexts
from openapi_spec_validator import validate

from tests.support import Gateway
from vidgate.accounting.budgets import MAX_BUDGET_USD
from vidgate.api import admin, listparams, videos

NOT_PARAMETERS = {"authorization", "x-api-key", "content-type", "content-length"}
"""Headers described otherwise: the security schemes and the request body's media type."""
OPEN_ROUTES = {"/health", "/health/live", "/health/ready", "/metrics"}


@dataclass
class Reads:
    """What a route's code reads from a request."""

    body: bool = False
    query: set[str] = field(default_factory=set)
    headers: set[str] = field(default_factory=set)

    def add(self, other: Reads) -> None:
        self.body |= other.body
        self.query |= other.query
        self.headers |= other.headers


def _strings(node: ast.expr | None, scope: dict[str, Any]) -> set[str]:
    """The string(s) an argument stands for: a literal, or a name bound to a str or tuple."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return {node.value}
    if isinstance(node, ast.Name):
        value = scope.get(node.id)
        if isinstance(value, str):
            return {value}
        if isinstance(value, tuple | list | frozenset | set):
            return {v for v in value if isinstance(v, str)}
    return set()


def _callee(node: ast.expr, scope: dict[str, Any]) -> Any:
    if isinstance(node, ast.Name):
        return scope.get(node.id)
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
        owner = scope.get(node.value.id)
        return getattr(owner, node.attr, None) if isinstance(owner, types.ModuleType) else None
    return None


def reads(func: Callable[..., Any], seen: set[Any] | None = None) -> Reads:
    """What ``func`` and the ``vidgate.api`` functions it calls read from the request."""
    seen = set() if seen is None else seen
    found = Reads()
    if func in seen or not func.__module__.startswith("vidgate.api"):
        return found
    seen.add(func)
    tree = ast.parse(textwrap.dedent(inspect.getsource(func)))
    scope = {**func.__globals__, **inspect.getclosurevars(func).nonlocals}
    iterates_query = "query.multi_items()" in ast.unparse(tree)
    for node in ast.walk(tree):
        if iterates_query and isinstance(node, ast.Compare) and isinstance(node.left, ast.Name):
            found.query |= {s for c in node.comparators for s in _strings(c, scope)}
        if not isinstance(node, ast.Call):
            continue
        target = ast.unparse(node.func)
        first = node.args[0] if node.args else None
        if target.endswith("read_fields"):
            found.body = True
        if target.endswith("query_params.get") or target in ("query.get", "query.getlist"):
            found.query |= _strings(first, scope)
        if first is not None and "query" in ast.unparse(first) and len(node.args) > 1:
            found.query |= _strings(node.args[1], scope)  # _value(query, "key"), ...
            for arg in node.args[2:]:  # time_range(query, "created_after", "created_before")
                if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                    found.query.add(arg.value)
        if target == "request.headers.get":
            found.headers |= {h.lower() for h in _strings(first, scope)}
        callee = _callee(node.func, scope)
        if inspect.isfunction(callee):
            found.add(reads(callee, seen))
    return found


def _operations(gateway: Gateway) -> Iterator[tuple[str, str, APIRoute]]:
    for context in iter_route_contexts(gateway.app.routes):
        route = context.original_route
        if isinstance(route, APIRoute) and route.include_in_schema:
            assert context.path is not None
            for method in route.methods:
                yield context.path, method.lower(), route


def _document(gateway: Gateway) -> dict[str, Any]:
    with gateway.http() as client:
        response = client.get("/openapi.json")
    assert response.status_code == 200
    doc: dict[str, Any] = response.json()
    return doc


def test_the_document_is_valid_openapi(gateway: Gateway) -> None:
    doc = _document(gateway)
    validate(doc)
    assert "422" not in str(doc["paths"])  # request errors are 400s here
    operation_ids = [op["operationId"] for ops in doc["paths"].values() for op in ops.values()]
    assert len(operation_ids) == len(set(operation_ids))


def test_every_route_describes_the_body_and_parameters_it_reads(gateway: Gateway) -> None:
    doc = _document(gateway)
    checked = 0
    for path, method, route in _operations(gateway):
        operation = doc["paths"][path][method]
        where = f"{method.upper()} {path}"
        params = operation.get("parameters", [])
        described = {
            (p["in"], p["name"].lower() if p["in"] == "header" else p["name"]) for p in params
        }
        found = reads(route.endpoint)
        if found.body:
            content = operation.get("requestBody", {}).get("content", {})
            assert "application/json" in content, f"{where}: request body not described"
        for name in re.findall(r"{(\w+)}", path):
            assert ("path", name) in described, f"{where}: path parameter {name}"
        for name in found.query:
            assert ("query", name) in described, f"{where}: query parameter {name!r}"
        for name in found.headers - NOT_PARAMETERS:
            assert ("header", name) in described, f"{where}: header {name!r}"
        fictional = {n for kind, n in described if kind == "query"} - found.query
        assert not fictional, f"{where}: describes {fictional}, which it never reads"
        if path not in OPEN_ROUTES:
            assert operation.get("security"), f"{where}: needs a key, says nothing"
            assert "4XX" in operation["responses"]
        checked += 1
    assert checked >= 50  # every route of the gateway, both mounts of /v1


def test_the_analysis_sees_what_routes_read(gateway: Gateway) -> None:
    """The code analysis itself finds known reads, so the test above cannot pass vacuously."""
    routes = {(path, method): route for path, method, route in _operations(gateway)}
    create = reads(routes["/v1/videos", "post"].endpoint)
    assert create.body and "idempotency-key" in create.headers
    assert reads(routes["/v1/videos", "get"].endpoint).query == {
        "limit", "after", "order", *listparams.VIDEO_FILTERS
    }  # fmt: skip
    assert reads(routes["/team/info", "get"].endpoint).query == {"team_id"}
    polls = reads(routes["/v2/video/generations", "get"].endpoint).query
    assert polls == {"generation_id", "generation_ids"}
    spend = reads(routes["/spend/logs", "get"].endpoint)
    assert {"status", "start", "limit", "format"} <= spend.query and "accept" in spend.headers


def test_bodies_reference_component_schemas(gateway: Gateway) -> None:
    doc = _document(gateway)
    schemas = doc["components"]["schemas"]
    create = doc["paths"]["/v1/videos"]["post"]
    json_body = create["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    form_body = create["requestBody"]["content"]["multipart/form-data"]["schema"]["$ref"]
    video = schemas[json_body.rsplit("/", 1)[1]]
    assert video["additionalProperties"] is False  # unknown fields are a 400
    assert {"prompt", "model", "seconds", "size", "input_reference", "metadata"} <= set(
        video["properties"]
    )
    assert "binary" in str(schemas[form_body.rsplit("/", 1)[1]]["properties"]["input_reference"])
    reply = create["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    assert reply.endswith("/Video")
    error = create["responses"]["4XX"]["content"]["application/json"]["schema"]["$ref"]
    envelope = schemas[error.rsplit("/", 1)[1]]
    assert envelope["required"] == ["error"]
    assert set(schemas["ErrorObject"]["required"]) == {"message", "type", "param", "code"}


def test_documented_bounds_are_the_enforced_ones(gateway: Gateway) -> None:
    schemas = _document(gateway)["components"]["schemas"]
    key = schemas["KeyGenerate"]["properties"]
    limit = next(o for o in key["rpm_limit"]["anyOf"] if o.get("type") == "integer")
    assert limit["maximum"] == admin.MAX_LIMIT
    budget = next(o for o in key["max_budget"]["anyOf"] if o.get("type") == "number")
    assert budget["maximum"] == MAX_BUDGET_USD
    idempotency = _document(gateway)["paths"]["/v1/videos"]["post"]["parameters"][0]
    assert idempotency["schema"]["maxLength"] == videos.MAX_IDEMPOTENCY_KEY
