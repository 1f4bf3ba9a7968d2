"""A small mutating HTTP reverse proxy, for proving that the conformance
suite can fail (test-only; not part of the product).

:class:`MutatingProxy` listens on 127.0.0.1 and forwards every request to
one upstream origin (``http://198.18.70.1``: the cloud's API base, with the
services under ``/identity``, ``/image``...). Responses come back with the
upstream origin rewritten to the proxy's in bodies and ``Location`` headers,
so catalog URLs in tokens, version links and ``Location`` keep the client
going through the proxy. At most one :class:`Mutation` is active at a time
(:meth:`MutatingProxy.set_mutation`); it may change the status, the headers
or the body of the responses it matches. :func:`write_clouds_yaml` writes a
clouds.yaml whose clouds point at the proxy.

The mutations the tests use:

* :func:`drop_field` — remove a field from JSON responses of a path
  (``token.expires_at``, ``images[].id``);
* :func:`change_status` — e.g. 404 → 200 on GET /image/v2/images/{id};
* :func:`plain_text_error` — replace an error body by a non-OpenStack one;
* :class:`LeakImages` — add images another token created to a list.

Stdlib only: ``http.server`` (threaded) and ``http.client``.
"""

from __future__ import annotations

import http.client
import json
import re
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable, Iterable
from urllib.parse import urlsplit

import yaml

__all__ = [
    "Exchange",
    "Mutation",
    "MutatingProxy",
    "drop_field",
    "change_status",
    "plain_text_error",
    "LeakImages",
    "write_clouds_yaml",
]

_HOP_BY_HOP = {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailers",
               "transfer-encoding", "upgrade", "content-length", "host", "accept-encoding"}
_TEXT_TYPES = ("application/json", "text/", "application/xml")


@dataclass
class Exchange:
    """One request and its (already origin-rewritten) response, as a mutation sees it."""

    method: str
    path: str  # with the query string
    request_headers: dict[str, str]
    request_body: bytes
    status: int
    headers: dict[str, str]  # lower-case names
    body: bytes

    @property
    def route(self) -> str:
        return self.path.split("?", 1)[0]

    def json(self) -> Any:
        try:
            return json.loads(self.body)
        except ValueError:
            return None

    def set_json(self, value: Any) -> None:
        self.body = json.dumps(value).encode()
        self.headers["content-type"] = "application/json"


@dataclass
class Mutation:
    """Applies ``apply(exchange)`` to responses whose method is in ``methods``
    (all when empty) and whose path (without query) matches ``path``.
    ``applied`` counts how often it changed something (``apply`` returns
    True when it did)."""

    name: str
    path: str
    apply: Callable[[Exchange], bool]
    methods: tuple[str, ...] = ()
    applied: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def __call__(self, ex: Exchange) -> None:
        if self.methods and ex.method not in self.methods:
            return
        if not re.fullmatch(self.path, ex.route):
            return
        if self.apply(ex):
            with self._lock:
                self.applied += 1


def _drop(obj: Any, parts: list[str]) -> bool:
    if not parts:
        return False
    head, rest = parts[0], parts[1:]
    if head.endswith("[]"):
        seq = obj.get(head[:-2]) if isinstance(obj, dict) else None
        changed = False
        for item in seq if isinstance(seq, list) else ():
            changed = _drop(item, rest) or changed
        return changed
    if not isinstance(obj, dict) or head not in obj:
        return False
    if not rest:
        del obj[head]
        return True
    return _drop(obj[head], rest)


def drop_field(name: str, path: str, pointer: str, *, methods: tuple[str, ...] = (),
               when: Callable[[Exchange], bool] | None = None) -> Mutation:
    """Remove ``pointer`` (dotted; ``list[]`` descends into every entry, as in
    ``images[].id``) from JSON responses of ``path``; ``when`` narrows further."""
    parts = pointer.split(".")

    def apply(ex: Exchange) -> bool:
        if when is not None and not when(ex):
            return False
        body = ex.json()
        if body is None or not _drop(body, parts):
            return False
        ex.set_json(body)
        return True

    return Mutation(name, path, apply, methods)


def change_status(name: str, path: str, old: int | Iterable[int], new: int, *,
                  methods: tuple[str, ...] = ()) -> Mutation:
    """Turn status ``old`` (one or several) into ``new`` on ``path`` (the body
    is kept, except that a 204 has none)."""
    olds = {old} if isinstance(old, int) else set(old)

    def apply(ex: Exchange) -> bool:
        if ex.status not in olds:
            return False
        ex.status = new
        return True

    return Mutation(name, path, apply, methods)


def plain_text_error(name: str, path: str, status: int, text: str = "Unauthorized: go away\n",
                     *, methods: tuple[str, ...] = ()) -> Mutation:
    """Replace the body of ``status`` responses of ``path`` by plain text."""

    def apply(ex: Exchange) -> bool:
        if ex.status != status:
            return False
        ex.body = text.encode()
        ex.headers["content-type"] = "text/plain; charset=utf-8"
        return True

    return Mutation(name, path, apply, methods)


class LeakImages:
    """Remembers the images each token creates (201 from POST .../images) and
    adds the ones *other* tokens created to every image list — another
    tenant's resources leaking into a tenant's list."""

    def __init__(self, prefix: str = "/image/v2"):
        self.created: dict[str, list[dict]] = {}
        self.lock = threading.Lock()
        self.mutations = [
            Mutation("leak: remember created images", re.escape(prefix) + r"/images", self._remember, ("POST",)),
            Mutation("leak: add other tokens' images to lists", re.escape(prefix) + r"/images/?", self._leak,
                     ("GET",)),
        ]

    def _remember(self, ex: Exchange) -> bool:
        body = ex.json()
        token = ex.request_headers.get("x-auth-token", "")
        if ex.status == 201 and isinstance(body, dict) and "id" in body:
            with self.lock:
                self.created.setdefault(token, []).append(body)
        return False

    def _leak(self, ex: Exchange) -> bool:
        body = ex.json()
        if ex.status != 200 or not isinstance(body, dict) or not isinstance(body.get("images"), list):
            return False
        token = ex.request_headers.get("x-auth-token", "")
        listed = {i.get("id") for i in body["images"] if isinstance(i, dict)}
        with self.lock:
            extra = [img for t, imgs in self.created.items() if t != token for img in imgs if img["id"] not in listed]
        if not extra:
            return False
        body["images"].extend(extra)
        ex.set_json(body)
        return True

    @property
    def applied(self) -> int:
        return self.mutations[1].applied

    def __call__(self, ex: Exchange) -> None:
        for m in self.mutations:
            m(ex)


class MutatingProxy:
    """A threaded reverse proxy from ``http://127.0.0.1:<port>`` to ``upstream``."""

    def __init__(self, upstream: str, *, host: str = "127.0.0.1", port: int = 0, timeout: float = 120.0):
        parts = urlsplit(upstream)
        if parts.scheme != "http" or not parts.hostname:
            raise ValueError(f"upstream must be an http:// origin, got {upstream!r}")
        self.upstream = f"http://{parts.netloc}"
        self.upstream_host = parts.hostname
        self.upstream_port = parts.port or 80
        self.timeout = timeout
        self.mutation: Callable[[Exchange], None] | None = None
        self.requests = 0
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:  # quiet
                pass

            def _body(self) -> bytes:
                if self.headers.get("transfer-encoding", "").lower() == "chunked":
                    chunks = []
                    while True:
                        size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                        if size == 0:
                            while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                                pass
                            return b"".join(chunks)
                        chunks.append(self.rfile.read(size))
                        self.rfile.readline()
                length = int(self.headers.get("content-length") or 0)
                return self.rfile.read(length) if length else b""

            def _handle(self) -> None:
                proxy.requests += 1
                body = self._body()
                headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP}
                headers["Host"] = proxy.upstream_host
                if body or self.command in ("POST", "PUT", "PATCH"):
                    headers["Content-Length"] = str(len(body))
                conn = http.client.HTTPConnection(proxy.upstream_host, proxy.upstream_port, timeout=proxy.timeout)
                try:
                    conn.request(self.command, self.path, body=body or None, headers=headers)
                    resp = conn.getresponse()
                    data = resp.read()
                    status = resp.status
                    out_headers = {k.lower(): v for k, v in resp.getheaders() if k.lower() not in _HOP_BY_HOP}
                    upstream_length = resp.getheader("content-length")
                except OSError as exc:
                    self.send_error(502, f"upstream {proxy.upstream}: {exc}")
                    return
                finally:
                    conn.close()
                ex = Exchange(self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, body,
                              status, out_headers, proxy.rewrite(data, out_headers))
                mutation = proxy.mutation
                if mutation is not None:
                    mutation(ex)
                if ex.status in (204, 304) or ex.status < 200:
                    ex.body = b""  # these have no body; a Content-Length would desync keep-alive
                self.send_response(ex.status)
                for k, v in ex.headers.items():
                    self.send_header(k, v)
                if self.command == "HEAD":
                    self.send_header("Content-Length", upstream_length or "0")
                    self.end_headers()
                    return
                self.send_header("Content-Length", str(len(ex.body)))
                self.end_headers()
                if ex.body:
                    self.wfile.write(ex.body)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _handle

        self.server = ThreadingHTTPServer((host, port), Handler)
        self.server.daemon_threads = True
        self.url = f"http://{host}:{self.server.server_address[1]}"
        self._thread: threading.Thread | None = None

    def rewrite(self, data: bytes, headers: dict[str, str]) -> bytes:
        """Upstream origin -> proxy origin in ``Location`` and in text bodies."""
        for key in ("location", "content-location"):
            if key in headers:
                headers[key] = headers[key].replace(self.upstream, self.url)
        ctype = headers.get("content-type", "")
        if data and ctype.startswith(_TEXT_TYPES):
            data = data.replace(self.upstream.encode(), self.url.encode())
            # JSON may escape the slashes
            data = data.replace(self.upstream.replace("/", "\\/").encode(), self.url.replace("/", "\\/").encode())
        return data

    def set_mutation(self, mutation: Callable[[Exchange], None] | None) -> None:
        self.mutation = mutation

    def start(self) -> "MutatingProxy":
        self._thread = threading.Thread(target=self.server.serve_forever, name="mutating-proxy", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def __enter__(self) -> "MutatingProxy":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()


def upstream_of(clouds_yaml: Path, cloud: str = "octoprobe") -> str:
    """The API origin of a cloud in a clouds.yaml (``http://198.18.70.1``)."""
    auth_url = yaml.safe_load(Path(clouds_yaml).read_text())["clouds"][cloud]["auth"]["auth_url"]
    parts = urlsplit(auth_url)
    return f"{parts.scheme}://{parts.netloc}"


def write_clouds_yaml(source: Path, target: Path, proxy_url: str) -> Path:
    """A copy of ``source`` whose clouds authenticate (and so find their
    catalog) through the proxy at ``proxy_url``."""
    data = yaml.safe_load(Path(source).read_text())
    for cloud in data.get("clouds", {}).values():
        auth = cloud.get("auth") or {}
        if auth.get("auth_url"):
            parts = urlsplit(auth["auth_url"])
            auth["auth_url"] = proxy_url.rstrip("/") + parts.path + (f"?{parts.query}" if parts.query else "")
    Path(target).write_text(yaml.safe_dump(data, sort_keys=False))
    return Path(target)
