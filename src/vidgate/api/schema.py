"""``/openapi.json`` describes every body, parameter and main reply without changing parsing.

Why not FastAPI's own declarations: the routes read raw bodies and query strings themselves,
so that every rejection is a 400 naming the field the client sent; a body model or a
``Query(...)`` parameter would move validation into FastAPI (its 422s and messages, a body
read twice, multipart parsed again). So a route passes ``openapi_extra=described(...)`` — a
fragment merged into its operation, nothing more — and ``install`` completes the document:
the component schemas of the models referenced (``api/openapi_models.py``), the two ways to
send a key, and no 422 responses, which the gateway never sends.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from vidgate.api.auth import admin, principal
from vidgate.api.openapi_models import ErrorResponse

_REF = "#/components/schemas/{model}"
_MODELS: dict[str, type[BaseModel]] = {}
_SECURITY: list[dict[str, list[str]]] = [{"bearerAuth": []}, {"apiKeyHeader": []}]
_SCHEMES = {
    "bearerAuth": {"type": "http", "scheme": "bearer", "description": "A vidgate key."},
    "apiKeyHeader": {"type": "apiKey", "in": "header", "name": "x-api-key"},
}


@dataclass(frozen=True)
class Param:
    """A query or header parameter, as an OpenAPI Parameter Object."""

    name: str
    where: Literal["query", "header"]
    description: str
    schema: dict[str, Any] = field(default_factory=lambda: {"type": "string"})
    required: bool = False

    def openapi(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "in": self.where}
        out |= {"description": self.description}
        out |= {"required": self.required, "schema": self.schema}
        if self.schema.get("type") == "array":
            out |= {"style": "form", "explode": True}
        return out


def query(name: str, description: str, *, required: bool = False, **schema: Any) -> Param:
    return Param(name, "query", description, schema or {"type": "string"}, required)


def header(name: str, description: str, **schema: Any) -> Param:
    return Param(name, "header", description, schema or {"type": "string"})


def enum(values: Sequence[str], default: str | None = None) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "string", "enum": list(values)}
    return schema if default is None else schema | {"default": default}


def ref(model: type[BaseModel]) -> dict[str, str]:
    """A reference to ``model``'s component schema (added to the document by ``install``)."""
    _MODELS[model.__name__] = model
    return {"$ref": _REF.format(model=model.__name__)}


def described(
    *,
    body: type[BaseModel] | None = None,
    form: type[BaseModel] | None = None,
    body_required: bool = True,
    params: Sequence[Param] = (),
    returns: type[BaseModel] | None = None,
    returns_media: Sequence[str] = (),
    status: int = 200,
    errors: bool = True,
) -> dict[str, Any]:
    """The ``openapi_extra`` of a route: its JSON and multipart bodies, its query and header
    parameters, its reply (a model, media types such as ``video/mp4``, or both: JSON or CSV)
    under ``status`` — give the route the same ``status_code``, so that FastAPI's own entry
    is that one — and its errors (the OpenAI envelope; ``errors=False`` for routes that
    send none)."""
    extra: dict[str, Any] = {"responses": {"4XX": _errors()} if errors else {}}
    content = {}
    if body is not None:
        content["application/json"] = {"schema": ref(body)}
    if form is not None:
        content["multipart/form-data"] = {"schema": ref(form)}
    if content:
        extra["requestBody"] = {"required": body_required, "content": content}
    if params:
        extra["parameters"] = [param.openapi() for param in params]
    ok: dict[str, Any] = {}
    if returns is not None:
        ok["application/json"] = {"schema": ref(returns)}
    ok |= {name: {"schema": {"contentMediaType": name}} for name in returns_media}
    if ok:
        extra["responses"][str(status)] = {"content": ok}
    return extra


def _errors() -> dict[str, Any]:
    return {
        "description": "An error, in the OpenAI error envelope.",
        "content": {"application/json": {"schema": ref(ErrorResponse)}},
    }


# --- the document -------------------------------------------------------------------------


def install(app: FastAPI) -> None:
    """Complete ``app``'s OpenAPI document once, when it is first asked for."""
    build: Callable[[], dict[str, Any]] = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            complete(build(), app.routes)
        assert app.openapi_schema is not None
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def complete(doc: dict[str, Any], routes: Sequence[Any]) -> None:
    components = doc.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    _, defs = models_json_schema(
        [(model, "validation") for model in _MODELS.values()], ref_template=_REF
    )
    for name, schema in defs.get("$defs", {}).items():
        schemas.setdefault(name, schema)
    components["securitySchemes"] = _SCHEMES
    secured = {
        (context.path, method.lower())
        for context in iter_route_contexts(routes)
        if isinstance(route := context.original_route, APIRoute) and _authenticated(route)
        for method in route.methods or ()
    }
    for path, operations in doc.get("paths", {}).items():
        for method, operation in operations.items():
            operation["responses"].pop("422", None)  # request errors are 400s here
            if (path, method) in secured:
                operation["security"] = _SECURITY
    if "HTTPValidationError" not in str(doc["paths"]):
        schemas.pop("HTTPValidationError", None)
        schemas.pop("ValidationError", None)


def _authenticated(route: APIRoute) -> bool:
    """Whether a route needs a key (its dependencies include ``principal`` or ``admin``)."""
    return any(dep.call in (principal, admin) for dep in route.dependant.dependencies)


# --- parameters several routes share ------------------------------------------------------

IDEMPOTENCY_KEY = header(
    "Idempotency-Key",
    "The same key and body return the same video instead of creating a second one.",
    maxLength=255,  # the column's size (api/videos.py MAX_IDEMPOTENCY_KEY)
)


def page(after: str, limit_max: int = 100) -> list[Param]:
    """``limit``, ``after`` and ``order`` of an OpenAI-style list route."""
    return [
        query(
            "limit",
            f"Items per page, 1 to {limit_max}.",
            type="integer",
            minimum=1,
            maximum=limit_max,
            default=20,
        ),
        query("after", after),
        query("order", "By creation time.", **enum(("asc", "desc"), "desc")),
    ]
