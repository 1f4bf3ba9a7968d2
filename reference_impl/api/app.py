"""The ASGI application: every service mounted under its prefix, a request id
on every response, one log line per request (no bodies, no secrets), and
``/openapi.json`` describing every route."""

from __future__ import annotations

import logging
import time
from typing import Any, Iterable

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Mount, Route

from octoprobe.redact import redact_url

from .routing import Service, new_request_id, openapi_document

log = logging.getLogger("octoprobe.api.access")

API_TITLE = "octoprobe reference cloud API"
API_VERSION = "1"


class RequestIdMiddleware:
    """Give each request an id (``X-Openstack-Request-Id``, and Nova's
    ``x-compute-request-id``) and log it with its outcome."""

    def __init__(self, app: Any):
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = new_request_id()
        scope.setdefault("state", {})["request_id"] = request_id
        started = time.monotonic()
        status_seen: list[int] = []

        async def send_with_id(message) -> None:
            if message["type"] == "http.response.start":
                status_seen.append(message["status"])
                headers = [(k, v) for k, v in message.get("headers", [])
                           if k.lower() != b"x-openstack-request-id"]
                headers.append((b"x-openstack-request-id", request_id.encode()))
                if scope["path"].startswith("/compute"):
                    headers.append((b"x-compute-request-id", request_id.encode()))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            query = scope.get("query_string", b"").decode("latin-1")
            target = scope["path"] + (f"?{query}" if query else "")
            ctx = scope.get("state", {}).get("ctx")
            who = f"user={ctx.user_name} project={ctx.project_name}" if ctx is not None else "anonymous"
            log.info("%s %s %s %s %.1fms %s", request_id, scope["method"], redact_url(target),
                     status_seen[0] if status_seen else "-", (time.monotonic() - started) * 1000, who)


def build_app(backend: Any, services: Iterable[Service]) -> Starlette:
    services = list(services)
    document = openapi_document(services, title=API_TITLE, version=API_VERSION)

    async def openapi(request: Request) -> JSONResponse:
        return JSONResponse(document)

    async def index(request: Request) -> JSONResponse:
        return JSONResponse({
            "services": [{"name": s.title, "url": backend.public_url(s.prefix)} for s in services],
            "openapi": backend.public_url("/openapi.json"),
        })

    routes: list = [Route("/", index), Route("/openapi.json", openapi)]
    routes += [Mount(s.prefix, app=s.starlette_router(backend)) for s in services]
    app = Starlette(routes=routes)
    app.state.backend = backend
    return RequestIdMiddleware(app)
