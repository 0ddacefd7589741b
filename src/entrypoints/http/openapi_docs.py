"""OpenAPI fix-ups: 400 answers are documented with the body the app really sends (ErrorBody).

Litestar documents a validation failure with its own `{status_code, detail, extra}` body, but
our exception handlers answer `{"error": {...}}`; schemathesis (tests/integration/interop)
rightly flags the mismatch. Explicit `responses={400: ...}` of a handler are left alone.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from litestar import Litestar
from litestar._openapi.plugin import OpenAPIPlugin
from litestar.openapi.spec import OpenAPIFormat, OpenAPIMediaType, OpenAPIResponse, OpenAPIType, Reference, Schema

from domain.webhooks import EVENT_TYPES

_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


def document_error_bodies(app: Litestar, *, schema_name: str = "ErrorBody") -> None:
    """Point every default "Validation Exception" 400 response at `#/components/schemas/ErrorBody`."""
    openapi = app.plugins.get(OpenAPIPlugin).provide_openapi()
    if openapi.components is None or schema_name not in (openapi.components.schemas or {}):
        return
    error = OpenAPIResponse(description="Invalid request: the `error.field` names what is wrong",
                            content={"application/json": OpenAPIMediaType(
                                schema=Reference(ref=f"#/components/schemas/{schema_name}"))})
    for item in (openapi.paths or {}).values():
        for method in _METHODS:
            operation = getattr(item, method, None)
            if operation is None or not operation.responses or "400" not in operation.responses:
                continue
            response = operation.responses["400"]
            content = getattr(response, "content", None) or {}
            media = content.get("application/json")
            schema = media.schema if media is not None else None
            if isinstance(schema, Schema) and schema.description == "Validation Exception":
                operation.responses["400"] = error


def document_outgoing_webhooks(app: Litestar) -> None:
    """Describe the client webhooks we send (OpenAPI 3.1 `webhooks`): body and signature headers."""
    from litestar.openapi.spec import Operation, Parameter, PathItem, RequestBody

    openapi = app.plugins.get(OpenAPIPlugin).provide_openapi()
    data = Schema(type=OpenAPIType.OBJECT, required=["jobId", "status", "progressPercent", "step"],
                  properties={"jobId": Schema(type=OpenAPIType.STRING),
                              "status": Schema(type=OpenAPIType.STRING),
                              "progressPercent": Schema(type=OpenAPIType.INTEGER),
                              "step": Schema(type=OpenAPIType.STRING)})
    body = Schema(type=OpenAPIType.OBJECT, required=["type", "timestamp", "data"], properties={
        "type": Schema(type=OpenAPIType.STRING, enum=list(EVENT_TYPES)),
        "timestamp": Schema(type=OpenAPIType.STRING, format=OpenAPIFormat.DATE_TIME), "data": data})
    headers = [Parameter(name=name, param_in="header", required=True, description=text,
                         schema=Schema(type=OpenAPIType.STRING)) for name, text in (
        ("webhook-id", "the delivery id; the same on every retry (deduplicate on it)"),
        ("webhook-timestamp", "Unix seconds of this attempt"),
        ("webhook-signature", "v1,<base64 HMAC-SHA256 of '{id}.{timestamp}.{body}' keyed with the "
                              "endpoint secret after 'whsec_'>"))]
    operation = Operation(
        summary="A job event, POSTed to your endpoint (Standard Webhooks)", parameters=headers,
        description="Answer 2xx within 15 s. Retries: immediately, 5 s, 5 min, 30 min, 2 h, 5 h, "
                    "10 h, 10 h.",
        request_body=RequestBody(content={"application/json": OpenAPIMediaType(schema=body)}, required=True),
        responses={"2XX": OpenAPIResponse(description="received")})
    openapi.webhooks = {"jobEvent": PathItem(post=operation)}


def document_request_headers(app: Litestar, *, schema_name: str = "ErrorBody") -> None:
    """Describe what the middlewares add to every operation: `Idempotency-Key` on POSTs with its
    409/422 answers, and the per-key rate limit's 429 with `Retry-After` on authenticated ones."""
    from litestar.openapi.spec import OpenAPIHeader, Parameter

    from domain.idempotency import MAX_KEY_LENGTH

    openapi = app.plugins.get(OpenAPIPlugin).provide_openapi()
    ref = Reference(ref=f"#/components/schemas/{schema_name}")

    def error(description: str, headers: dict[str, OpenAPIHeader] | None = None) -> OpenAPIResponse:
        return OpenAPIResponse(description=description, headers=headers,
                               content={"application/json": OpenAPIMediaType(schema=ref)})

    key = Parameter(name="Idempotency-Key", param_in="header", required=False,
                    description="Retry-safe POST (Stripe semantics, per API key, kept 24 h): the same "
                                "key and body answer the first response again, status included.",
                    schema=Schema(type=OpenAPIType.STRING, max_length=MAX_KEY_LENGTH))
    retry_after = {"Retry-After": OpenAPIHeader(schema=Schema(type=OpenAPIType.INTEGER),
                                                description="seconds to wait")}
    for path, method, operation in _v1_operations(openapi):
        responses = operation.responses if operation.responses is not None else {}
        responses.setdefault("401", error("Missing, unknown or revoked API key"))
        responses.setdefault("429", error("Too many requests for this API key", retry_after))
        if method == "post":
            operation.parameters = [*(operation.parameters or []), key]
            responses.setdefault("409", error("A request with this Idempotency-Key is still running"))
            responses.setdefault("422", error("This Idempotency-Key was used with another body"))
        operation.responses = responses


# --- operation ids, common answers, the edits body, local docs assets (ADR 0094) ---------------

def operation_id(route_handler, http_method, path_components) -> str:  # type: ignore[no-untyped-def]
    """An explicit, stable operationId: a handler's own, else its controller plus its name in
    camelCase (`jobsCancel`, `readBalance`), never one derived from the path."""
    explicit = getattr(route_handler, "operation_id", None)
    if isinstance(explicit, str) and explicit:
        return explicit
    qualname = getattr(route_handler.fn, "__qualname__", "")  # JobsController.cancel
    owner = qualname.rsplit(".", 1)[0] if "." in qualname else ""
    prefix = owner.removesuffix("Controller") if owner.endswith("Controller") else ""
    words = [w for w in [*_split_camel(prefix), *route_handler.handler_name.split("_")] if w]
    if len(route_handler.http_methods) > 1:
        words.insert(0, str(http_method).lower())
    return words[0].lower() + "".join(w[:1].upper() + w[1:] for w in words[1:])


def _split_camel(name: str) -> list[str]:
    import re

    return re.findall(r"[A-Z]+(?![a-z])|[A-Z]?[a-z0-9]+", name)


_SUBMITS = ("/v1/jobs", "/v1/batches", "/v1/images/generations", "/v1/images/edits",
            "/v1/jobs/{job_id}/retry")


def document_common_answers(app: Litestar, *, schema_name: str = "ErrorBody") -> None:
    """503 on every /v1 operation (a backing service down), 404 where the path names a
    resource, 402 where credits are reserved; existing entries are kept."""
    openapi = app.plugins.get(OpenAPIPlugin).provide_openapi()
    ref = Reference(ref=f"#/components/schemas/{schema_name}")

    def error(description: str) -> OpenAPIResponse:
        return OpenAPIResponse(description=description, content={"application/json": OpenAPIMediaType(schema=ref)})

    for path, method, operation in _v1_operations(openapi):
        responses = operation.responses if operation.responses is not None else {}
        responses.setdefault("503", error("A backing service is briefly unavailable; retry (Retry-After)"))
        if "{" in path:
            responses.setdefault("404", error("No such resource of the caller's"))
        if method == "post" and path in _SUBMITS:
            responses.setdefault("402", error("Credits do not cover the estimate"))
        operation.responses = responses


def document_edits_body(app: Litestar) -> None:
    """The multipart body of POST /v1/images/edits, which the handler reads itself."""
    from litestar.openapi.spec import RequestBody

    openapi = app.plugins.get(OpenAPIPlugin).provide_openapi()
    item = (openapi.paths or {}).get("/v1/images/edits")
    if item is None or item.post is None:
        return
    text, binary = Schema(type=OpenAPIType.STRING), Schema(type=OpenAPIType.STRING, format=OpenAPIFormat.BINARY)
    form = Schema(type=OpenAPIType.OBJECT, required=["image", "prompt"], properties={
        "image": binary, "image[]": Schema(type=OpenAPIType.ARRAY, items=binary), "mask": binary,
        "prompt": text, "model": text, "size": text, "n": Schema(type=OpenAPIType.INTEGER),
        "response_format": Schema(type=OpenAPIType.STRING, enum=["url", "b64_json"]), "user": text})
    item.post.request_body = RequestBody(required=True, content={
        "multipart/form-data": OpenAPIMediaType(schema=form)})


DOCS_ASSETS = "/schema/assets"


def local_docs() -> tuple[list[object], object]:
    """Swagger UI served from the installed `swagger-ui-bundle` files (no CDN), and its router."""
    from litestar.openapi.plugins import SwaggerRenderPlugin
    from litestar.static_files import create_static_files_router
    from swagger_ui_bundle import swagger_ui_path  # type: ignore[import-untyped]

    plugin = SwaggerRenderPlugin(
        js_url=f"{DOCS_ASSETS}/swagger-ui-bundle.js", css_url=f"{DOCS_ASSETS}/swagger-ui.css",
        standalone_preset_js_url=f"{DOCS_ASSETS}/swagger-ui-standalone-preset.js",
        favicon=f"<link rel='icon' type='image/png' href='{DOCS_ASSETS}/favicon-32x32.png'>")
    router = create_static_files_router(path=DOCS_ASSETS, directories=[swagger_ui_path],
                                        include_in_schema=False, opt={"public": True})
    return [plugin], router


def _v1_operations(openapi: Any) -> Iterator[tuple[str, str, Any]]:
    """(path, method, operation) of every documented operation under /v1/."""
    for path, item in (openapi.paths or {}).items():
        if path.startswith("/v1/"):
            for method in _METHODS:
                operation = getattr(item, method, None)
                if operation is not None:
                    yield path, method, operation
