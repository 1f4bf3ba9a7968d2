"""Routes of one OpenStack service and how a request reaches its handler.

A :class:`Service` is a path prefix, an error format and a list of routes.
Handlers are plain (synchronous) functions ``handler(req: ApiRequest)``
that run in Starlette's thread pool, so they may call the blocking data-plane
libraries. A handler returns a :class:`Reply`, a dict (200 JSON), ``None``
(204) or a Starlette ``Response`` (downloads).

Around every handler the service:

* authenticates (``X-Auth-Token``) unless the route is public, and refuses
  writes to readers (403);
* reads the body: JSON (malformed → 400; validated against the route's JSON
  schema → 400 naming the field) or raw bytes spooled to a temporary file;
* turns :class:`~.errors.ApiError` into the service's own error body, and
  anything unexpected into a logged traceback and a generic error body —
  never a traceback in a response.

Every route also feeds the OpenAPI description (:func:`openapi_document`).
"""

from __future__ import annotations

import json
import logging
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable

import jsonschema
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, Router

from . import errors as E
from .context import RequestContext

log = logging.getLogger("octoprobe.api")

ALL_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
MAX_JSON_BODY = 1 << 20  # 1 MiB, as Nova's and Keystone's request size limit
MAX_RAW_BODY = 8 << 30  # image uploads
SPOOL_BYTES = 4 << 20

Handler = Callable[["ApiRequest"], Any]


@dataclass
class Reply:
    body: Any = None
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class ApiRequest:
    method: str
    path: str
    params: dict[str, str]
    query: Any  # starlette QueryParams (multi-valued)
    headers: Any  # starlette Headers (case-insensitive)
    body: Any
    ctx: RequestContext | None
    backend: Any
    request_id: str
    service: "Service"
    base_url: str
    raw: Any = None  # a spooled temporary file for routes that take raw bytes
    microversion: tuple[int, int] | None = None
    response_headers: dict[str, str] = field(default_factory=dict)

    @property
    def context(self) -> RequestContext:
        if self.ctx is None:  # a public route asked for the caller
            raise E.Unauthorized("The request you have made requires authentication.")
        return self.ctx

    def query_one(self, name: str, default: str | None = None) -> str | None:
        values = self.query.getlist(name)
        return values[-1] if values else default

    def query_int(self, name: str, default: int | None = None, *, minimum: int = 0) -> int | None:
        value = self.query_one(name)
        if value is None or value == "":
            return default
        try:
            number = int(value)
        except ValueError:
            raise E.BadRequest(f"Invalid value for '{name}': {value!r} is not an integer") from None
        if number < minimum:
            raise E.BadRequest(f"Invalid value for '{name}': must be at least {minimum}")
        return number

    def query_bool(self, name: str, default: bool = False) -> bool:
        value = self.query_one(name)
        if value is None or value == "":
            return default
        lowered = value.lower()
        if lowered in ("1", "true", "yes", "on", "t", "y"):
            return True
        if lowered in ("0", "false", "no", "off", "f", "n"):
            return False
        raise E.BadRequest(f"Invalid value for '{name}': {value!r} is not a boolean")


@dataclass
class RouteSpec:
    method: str
    path: str
    handler: Handler
    schema: dict | None = None
    public: bool = False
    body: str = "json"  # "json" | "raw" | "none"
    policy: str = "auto"  # "auto" (writes need member/admin) | "admin" | "any"
    status: int = 200
    summary: str = ""


class Service:
    """``name``: the error format (see :data:`.errors.ERROR_FORMATS`);
    ``prefix``: where it is mounted; ``before``: a hook run on each request
    after authentication (e.g. microversion negotiation)."""

    def __init__(self, name: str, prefix: str, *, title: str = "",
                 before: Callable[[ApiRequest], None] | None = None):
        self.name = name
        self.prefix = prefix.rstrip("/")
        self.title = title or name
        self.before = before
        self.routes: list[RouteSpec] = []
        self._format = E.ERROR_FORMATS[name]

    def route(self, method: str, path: str, *, schema: dict | None = None, public: bool = False,
              body: str = "json", policy: str = "auto", status: int = 200,
              summary: str = "") -> Callable[[Handler], Handler]:
        def register(handler: Handler) -> Handler:
            self.routes.append(RouteSpec(method.upper(), path, handler, schema, public, body, policy,
                                         status, summary or (handler.__doc__ or "").strip().split("\n")[0]))
            return handler
        return register

    # -- responses --------------------------------------------------------------
    def error_response(self, exc: E.ApiError, request_id: str) -> JSONResponse:
        headers = {"X-Openstack-Request-Id": request_id, **exc.headers}
        if exc.status == 401 and "WWW-Authenticate" not in headers:
            headers["WWW-Authenticate"] = "Keystone uri=\"\""
        return JSONResponse(self._format(exc.status, exc.message, exc.kind), status_code=exc.status,
                            headers=headers)

    def starlette_router(self, backend: Any) -> Router:
        by_path: dict[str, dict[str, RouteSpec]] = {}
        for spec in self.routes:
            by_path.setdefault(spec.path, {})[spec.method] = spec
        routes = [Route(path or "/", self._endpoint(backend, methods), methods=ALL_METHODS)
                  for path, methods in by_path.items()]
        return Router(routes=routes, default=self._not_found)

    async def _not_found(self, scope, receive, send) -> None:
        request_id = scope.get("state", {}).get("request_id") or new_request_id()
        response = self.error_response(E.NotFound(f"The resource could not be found: {scope['path']}"),
                                       request_id)
        await response(scope, receive, send)

    def _endpoint(self, backend: Any, methods: dict[str, RouteSpec]):
        service = self

        async def endpoint(request: Request) -> Response:
            request_id = getattr(request.state, "request_id", None) or new_request_id()
            spec = methods.get(request.method) or (methods.get("GET") if request.method == "HEAD" else None)
            if spec is None:
                allowed = ", ".join(sorted(methods))
                return service.error_response(
                    E.MethodNotAllowed(f"The method {request.method} is not allowed for this resource "
                                       f"(allowed: {allowed})", headers={"Allow": allowed}), request_id)
            raw_file = None
            try:
                ctx = None
                if not spec.public:
                    ctx = backend.authenticate(request.headers.get("x-auth-token"))
                    request.state.ctx = ctx
                    service._check_policy(spec, ctx)
                body, raw_file = await service._read_body(request, spec)
                req = ApiRequest(
                    method=request.method, path=request.url.path, params=dict(request.path_params),
                    query=request.query_params, headers=request.headers, body=body, ctx=ctx,
                    backend=backend, request_id=request_id, service=service,
                    base_url=backend.public_url(service.prefix), raw=raw_file,
                )
                if service.before is not None:
                    service.before(req)
                result = await run_in_threadpool(spec.handler, req)
                return service._to_response(result, spec, req)
            except E.ApiError as exc:
                return service.error_response(exc, request_id)
            except Exception:  # a bug: log it, answer without a traceback
                log.exception("request %s %s %s failed", request_id, request.method, request.url.path)
                return service.error_response(
                    E.ApiError("The server has either erred or is incapable of performing the requested "
                               f"operation (request {request_id})."), request_id)
            finally:
                if raw_file is not None:
                    raw_file.close()

        return endpoint

    @staticmethod
    def _check_policy(spec: RouteSpec, ctx: RequestContext) -> None:
        if spec.policy == "admin" and not ctx.is_admin:
            raise E.Forbidden("Policy does not allow this request: admin role required")
        if spec.policy == "auto" and spec.method in WRITE_METHODS and not ctx.can_write:
            raise E.Forbidden("Policy does not allow this request: the reader role is read-only")

    async def _read_body(self, request: Request, spec: RouteSpec) -> tuple[Any, Any]:
        if spec.body == "raw":
            spooled = tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES)
            size = 0
            try:
                async for chunk in request.stream():
                    size += len(chunk)
                    if size > MAX_RAW_BODY:
                        raise E.RequestTooLarge(f"the request body is larger than {MAX_RAW_BODY} bytes")
                    spooled.write(chunk)
            except BaseException:
                spooled.close()
                raise
            spooled.seek(0)
            return None, spooled
        data = await request.body()
        if spec.body == "none" or not data.strip():
            if spec.schema is not None and spec.body == "json" and spec.method in ("POST", "PUT", "PATCH"):
                raise E.BadRequest("The request body is empty: a JSON document is required")
            return None, None
        if len(data) > MAX_JSON_BODY:
            raise E.RequestTooLarge(f"the request body is larger than {MAX_JSON_BODY} bytes")
        try:
            body = json.loads(data)
        except (ValueError, UnicodeDecodeError) as exc:
            raise E.BadRequest(f"Malformed request body: not JSON ({exc})") from None
        if spec.schema is not None:
            validate(body, spec.schema)
        return body, None

    def _to_response(self, result: Any, spec: RouteSpec, req: ApiRequest) -> Response:
        headers = {"X-Openstack-Request-Id": req.request_id, **req.response_headers}
        if isinstance(result, Response):
            for k, v in headers.items():
                result.headers[k] = v
            return result
        if isinstance(result, Reply):
            headers.update(result.headers)
            if result.body is None:
                return Response(status_code=result.status, headers=headers)
            return JSONResponse(result.body, status_code=result.status, headers=headers)
        if result is None:
            return Response(status_code=204 if spec.status == 200 else spec.status, headers=headers)
        return JSONResponse(result, status_code=spec.status, headers=headers)


def validate(body: Any, schema: dict) -> None:
    """Validate a request body; the 400's message names the field and the rule."""
    validator = jsonschema.Draft202012Validator(schema)
    error = jsonschema.exceptions.best_match(validator.iter_errors(body))
    if error is None:
        return
    where = "/".join(str(p) for p in error.absolute_path)
    raise E.BadRequest(f"Invalid input for field/attribute {where or '(body)'}: {error.message}")


def new_request_id() -> str:
    return f"req-{uuid.uuid4()}"


def openapi_document(services: list[Service], *, title: str, version: str) -> dict:
    """An OpenAPI 3.1 description of every route the services serve."""
    paths: dict[str, dict] = {}
    for service in services:
        for spec in service.routes:
            path = service.prefix + (spec.path if spec.path != "/" else "/")
            operation: dict[str, Any] = {
                "tags": [service.title],
                "summary": spec.summary or f"{spec.method} {path}",
                "operationId": f"{service.title}:{spec.method}:{spec.path}",
                "responses": {
                    str(spec.status): {"description": "success"},
                    "400": {"description": "bad request"},
                    "401": {"description": "no or invalid token"},
                    "403": {"description": "not allowed"},
                    "404": {"description": "no such resource"},
                },
            }
            names = [part[1:-1].split(":")[0] for part in path.split("/") if part.startswith("{")]
            if names:
                operation["parameters"] = [
                    {"name": n, "in": "path", "required": True, "schema": {"type": "string"}} for n in names
                ]
            if not spec.public:
                operation["security"] = [{"token": []}]
            if spec.body == "json" and spec.method in ("POST", "PUT", "PATCH"):
                operation["requestBody"] = {
                    "required": spec.schema is not None,
                    "content": {"application/json": {"schema": spec.schema or {}}},
                }
            elif spec.body == "raw":
                operation["requestBody"] = {
                    "required": True,
                    "content": {"application/octet-stream": {"schema": {"type": "string",
                                                                        "format": "binary"}}},
                }
            paths.setdefault(path.replace(":path}", "}"), {})[spec.method.lower()] = operation
    return {
        "openapi": "3.1.0",
        "info": {"title": title, "version": version},
        "paths": paths,
        "components": {"securitySchemes": {"token": {"type": "apiKey", "in": "header",
                                                     "name": "X-Auth-Token"}}},
    }
