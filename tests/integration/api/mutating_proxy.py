"""A small mutating HTTP reverse proxy, for proving that the conformance
suite can fail (test-only; not part of the product).

:class:`MutatingProxy` listens on 127.0.0.1 and forwards every request to
one upstream origin (``http://198.18.70.1``: the cloud's API base, with the
services under ``/identity``, ``/image``...). Responses come back with the
upstream origin rewritten to the proxy's in bodies and ``Location`` headers,
so catalog URLs in tokens, version links and ``Location`` keep the client
going through the proxy. At most one mutation is active at a time
(:meth:`MutatingProxy.set_mutation`); it may change the status, the headers
or the body of the responses it matches. :func:`write_clouds_yaml` writes a
clouds.yaml whose clouds point at the proxy.

The proxy knows which phase of which test the suite is in: the pytest
plugin :mod:`proxy_phases` (loaded into the suite's run with ``-p``) posts
each test's ``setup`` / ``call`` / ``teardown`` to :data:`CONTROL_PATH`.
A :class:`Mutation` changes only the responses of requests made in a
test's *call* (unless told otherwise): session and module fixtures and
cleanups see the real cloud, so a failure under a mutation is the test's
own assertion catching it, never a fixture error that fails everything.
(Without a plugin — the proxy never told a phase — mutations apply always.)

The mutations the tests use:

* :func:`drop_field` — remove a field from JSON responses of a path
  (``token.expires_at``, ``images[].id``);
* :func:`drop_everywhere` — remove a key from a response and from every
  resource in it (``id`` from ``{"server": {...}}`` or ``{"ports": [...]}``);
* :func:`change_status` / :func:`remap_status` — e.g. 404 → 200 on GET
  /image/v2/images/{id}, or 201 → 200 and 204 → 200 on a service's writes;
* :func:`plain_text_error` / :func:`framework_error` — replace an error body
  by a non-OpenStack one (plain text; a web framework's ``{"detail": ...}``);
* :class:`LeakImages`, :class:`Leak` — add resources another token created
  to lists, and show them to a GET that should be a 404;
* :func:`ignore_query` — forward a list's GET without its filters;
* :class:`RewriteRequest` — change what is forwarded (method, path, JSON
  body) and, optionally, the answer to it: the cloud does something else
  than it was asked and says it did what was asked (a rule for another
  port; a disassociation that is never made; a server under another name);
* :class:`Composite` — several mutations that touch disjoint requests in
  one run, each counting what it changed; an exchange two of them change is
  recorded as an overlap (a design error of the composite).

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
    "Request",
    "Mutation",
    "RewriteRequest",
    "MutatingProxy",
    "Composite",
    "CONTROL_PATH",
    "drop_field",
    "drop_everywhere",
    "edit_json",
    "ignore_query",
    "change_status",
    "remap_status",
    "plain_text_error",
    "framework_error",
    "LeakImages",
    "Leak",
    "write_clouds_yaml",
]

_HOP_BY_HOP = {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailers",
               "transfer-encoding", "upgrade", "content-length", "host", "accept-encoding"}
_TEXT_TYPES = ("application/json", "text/", "application/xml")
#: where the suite's phase plugin posts ``{"nodeid": ..., "phase": ...}`` (never forwarded)
CONTROL_PATH = "/__octoprobe_proxy__/phase"
CALL = ("call",)


class _JsonMessage:
    """``route`` (the path without its query) and the JSON ``body`` of a
    request or a response (``path`` and ``body`` are the dataclass's)."""

    path: str
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


@dataclass
class Request(_JsonMessage):
    """A request on its way to the cloud, as a mutation's ``rewrite_request``
    sees it and may change it (``method``, ``path``, ``body``)."""

    method: str
    path: str  # with the query string
    headers: dict[str, str]  # lower-case names
    body: bytes
    phase: str | None = None
    test: str = ""


def _selects(methods: tuple[str, ...], phases: tuple[str, ...], path: str, method: str, phase: str | None,
             route: str) -> bool:
    """Whether a mutation of ``methods`` (all when empty), ``phases`` (any when
    empty, or when the proxy was never told one) and ``path`` (a regular
    expression of the whole route) applies to a request."""
    if methods and method not in methods:
        return False
    if phases and phase is not None and phase not in phases:
        return False
    return re.fullmatch(path, route) is not None


@dataclass
class Exchange(_JsonMessage):
    """One request and its (already origin-rewritten) response, as a mutation sees it."""

    method: str
    path: str  # with the query string
    request_headers: dict[str, str]
    request_body: bytes
    status: int
    headers: dict[str, str]  # lower-case names
    body: bytes
    phase: str | None = None  # setup | call | teardown of test ``test``; "" between tests; None: never told
    test: str = ""
    rewritten_by: tuple[str, ...] = ()  # the mutations that changed the request before it was forwarded

    def set_json(self, value: Any) -> None:
        super().set_json(value)
        self.headers["content-type"] = "application/json"


@dataclass
class Mutation:
    """Applies ``apply(exchange)`` to responses whose method is in ``methods``
    (all when empty), whose path (without query) matches ``path`` and that
    answer a request made in one of ``phases`` of a test (any when empty;
    see the module's doc). ``applied`` counts how often it changed
    something (``apply`` returns True when it did); so does the call."""

    name: str
    path: str
    apply: Callable[[Exchange], bool]
    methods: tuple[str, ...] = ()
    phases: tuple[str, ...] = CALL
    applied: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def __call__(self, ex: Exchange) -> bool:
        if not _selects(self.methods, self.phases, self.path, ex.method, ex.phase, ex.route):
            return False
        if self.apply(ex):
            with self._lock:
                self.applied += 1
            return True
        return False


class Composite:
    """Several mutations in one run: each exchange is offered to every one
    of ``parts`` (name -> mutation); each counts its own ``applied``. They
    are meant to touch disjoint requests; an exchange that more than one
    changed is recorded in ``overlaps`` (name pairs and the request)."""

    def __init__(self, name: str, parts: dict[str, Callable[[Exchange], bool]]):
        self.name = name
        self.parts = dict(parts)
        self.overlaps: list[str] = []
        self._lock = threading.Lock()

    def __call__(self, ex: Exchange) -> bool:
        changed = [name for name, part in self.parts.items() if part(ex)]
        if len(changed) > 1:
            with self._lock:
                self.overlaps.append(f"{' & '.join(changed)}: {ex.method} {ex.route}")
        return bool(changed)

    def rewrite_request(self, request: Request) -> tuple[str, ...]:
        """Every part's request rewrite, in order; the names the parts that
        changed it return (two parts is an overlap, as for responses)."""
        changed, names = [], []
        for key, part in self.parts.items():
            rewrite = getattr(part, "rewrite_request", None)
            done = tuple(rewrite(request)) if rewrite is not None else ()
            if done:
                changed.append(key)
                names += done
        if len(changed) > 1:
            with self._lock:
                self.overlaps.append(f"{' & '.join(changed)}: {request.method} {request.route} (request)")
        return tuple(names)

    def applied_by(self) -> dict[str, int]:
        return {name: getattr(part, "applied", 0) for name, part in self.parts.items()}

    @property
    def applied(self) -> int:
        return sum(self.applied_by().values())


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


def _drop_in_resources(body: Any, key: str) -> bool:
    """Remove ``key`` from ``body`` and from every object right under it
    (``{"server": {...}}``, ``{"ports": [{...}]}``, ``{"keypairs": [{"keypair": {...}}]}``)."""
    if not isinstance(body, dict):
        return False
    changed = body.pop(key, None) is not None
    for value in body.values():
        items = value if isinstance(value, list) else [value]
        for item in items:
            if isinstance(item, dict):
                changed = (item.pop(key, None) is not None) or changed
                for inner in item.values():  # one more level: a keypair list's {"keypair": {...}}
                    if isinstance(inner, dict) and len(item) == 1:
                        changed = (inner.pop(key, None) is not None) or changed
    return changed


def drop_everywhere(name: str, path: str, key: str, *, methods: tuple[str, ...] = ("GET",),
                    statuses: Iterable[int] = range(200, 300), when: Callable[[Exchange], bool] | None = None,
                    phases: tuple[str, ...] = CALL) -> Mutation:
    """Remove ``key`` from successful JSON responses of ``path``: from the
    body and from every resource in it (see :func:`_drop_in_resources`)."""
    wanted = set(statuses)

    def apply(ex: Exchange) -> bool:
        if ex.status not in wanted or (when is not None and not when(ex)):
            return False
        body = ex.json()
        if not _drop_in_resources(body, key):
            return False
        ex.set_json(body)
        return True

    return Mutation(name, path, apply, methods, phases)


def change_status(name: str, path: str, old: int | Iterable[int], new: int, *,
                  methods: tuple[str, ...] = ()) -> Mutation:
    """Turn status ``old`` (one or several) into ``new`` on ``path`` (the body
    is kept, except that a 204 has none)."""
    olds = {old} if isinstance(old, int) else set(old)
    return remap_status(name, path, {o: new for o in olds}, methods=methods)


def remap_status(name: str, path: str, mapping: dict[int, int], *, methods: tuple[str, ...] = ()) -> Mutation:
    """Change statuses by ``mapping`` (e.g. ``{201: 200, 204: 200}``) on ``path``."""

    def apply(ex: Exchange) -> bool:
        if ex.status not in mapping:
            return False
        ex.status = mapping[ex.status]
        return True

    return Mutation(name, path, apply, methods)


def plain_text_error(name: str, path: str, status: int | Iterable[int], text: str = "Unauthorized: go away\n",
                     *, methods: tuple[str, ...] = ()) -> Mutation:
    """Replace the body of ``status`` responses of ``path`` by plain text."""
    wanted = {status} if isinstance(status, int) else set(status)

    def apply(ex: Exchange) -> bool:
        if ex.status not in wanted:
            return False
        ex.body = text.encode()
        ex.headers["content-type"] = "text/plain; charset=utf-8"
        return True

    return Mutation(name, path, apply, methods)


def framework_error(name: str, path: str, statuses: Iterable[int] = range(400, 500), *,
                    methods: tuple[str, ...] = ()) -> Mutation:
    """Replace the error bodies of ``path`` by what a web framework answers
    when nobody wrote the service's error format: JSON ``{"detail": ...}``
    (Starlette's / FastAPI's default), keeping the status and the message."""
    wanted = set(statuses)

    def apply(ex: Exchange) -> bool:
        if ex.status not in wanted:
            return False
        ex.set_json({"detail": _message_of(ex.json()) or ex.body.decode(errors="replace")[:200]})
        return True

    return Mutation(name, path, apply, methods)


def _message_of(body: Any) -> str | None:
    if isinstance(body, dict):
        if isinstance(body.get("message"), str):
            return body["message"]
        for value in body.values():
            found = _message_of(value)
            if found:
                return found
    return None


class IgnoreQuery:
    """The cloud ignores a list's filters: in the tests' calls, a GET of
    ``path`` is forwarded without its query string (but ``keep``, e.g. the
    paging parameters), so every filter matches everything."""

    def __init__(self, name: str, path: str, *, keep: tuple[str, ...] = ("limit", "marker"),
                 phases: tuple[str, ...] = CALL):
        self.name, self.path, self.keep, self.phases = name, path, keep, phases
        self.applied = 0
        self._lock = threading.Lock()

    def rewrite_request(self, request: Request) -> tuple[str, ...]:
        if "?" not in request.path or not _selects(("GET",), self.phases, self.path, request.method, request.phase,
                                                   request.route):
            return ()
        route, query = request.path.split("?", 1)
        kept = [q for q in query.split("&") if q.split("=", 1)[0] in self.keep]
        if len(kept) == len(query.split("&")):
            return ()
        with self._lock:
            self.applied += 1
        request.path = route + ("?" + "&".join(kept) if kept else "")
        return (self.name,)

    def __call__(self, ex: Exchange) -> bool:
        return False  # what it changes, it changed in the request


class RewriteRequest:
    """The cloud does something else than it was asked: ``rewrite(request)``
    changes a matching request (method, path, body; True when it did)
    before it is forwarded, and ``answer(exchange)``, when given, changes
    the response to a request it rewrote — typically back into what was
    asked, so only what the cloud *does* differs. Matching is by
    ``methods``, ``path`` (without query), ``phases`` and ``when``
    (e.g. the test's node id). ``applied`` counts the rewritten requests."""

    def __init__(self, name: str, path: str, rewrite: Callable[[Request], bool], *,
                 answer: Callable[[Exchange], bool] | None = None, methods: tuple[str, ...] = (),
                 phases: tuple[str, ...] = CALL, when: Callable[[Request], bool] | None = None):
        self.name, self.path, self.rewrite, self.answer = name, path, rewrite, answer
        self.methods, self.phases, self.when = methods, phases, when
        self.applied = 0
        self._lock = threading.Lock()

    def rewrite_request(self, request: Request) -> tuple[str, ...]:
        if not _selects(self.methods, self.phases, self.path, request.method, request.phase, request.route):
            return ()
        if (self.when is not None and not self.when(request)) or not self.rewrite(request):
            return ()
        with self._lock:
            self.applied += 1
        return (self.name,)

    def __call__(self, ex: Exchange) -> bool:
        if self.name not in ex.rewritten_by or self.answer is None:
            return False
        return bool(self.answer(ex))


def ignore_query(name: str, path: str, **kwargs: Any) -> IgnoreQuery:
    return IgnoreQuery(name, path, **kwargs)


def edit_json(name: str, path: str, edit: Callable[[Any], bool], *, methods: tuple[str, ...] = ("GET",),
              statuses: Iterable[int] = range(200, 300), when: Callable[[Exchange], bool] | None = None,
              phases: tuple[str, ...] = CALL) -> Mutation:
    """Change successful JSON responses of ``path`` with ``edit(body)``
    (in place; True when it changed something)."""
    wanted = set(statuses)

    def apply(ex: Exchange) -> bool:
        if ex.status not in wanted or (when is not None and not when(ex)):
            return False
        body = ex.json()
        if body is None or not edit(body):
            return False
        ex.set_json(body)
        return True

    return Mutation(name, path, apply, methods, phases)


class LeakImages:
    """Remembers the images each token creates (201 from POST .../images) and
    adds the ones *other* tokens created to every image list — another
    tenant's resources leaking into a tenant's list."""

    def __init__(self, prefix: str = "/image/v2"):
        self.created: dict[str, list[dict]] = {}
        self.lock = threading.Lock()
        self.mutations = [
            Mutation("leak: remember created images", re.escape(prefix) + r"/images", self._remember, ("POST",),
                     phases=()),
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

    def __call__(self, ex: Exchange) -> bool:
        return any([m(ex) for m in self.mutations])


#: Neutron's collections (POST /network/v2.0/<plural> -> {"<singular>": {...}})
_SINGULAR = {"policies": "policy", "security-groups": "security_group", "security-group-rules": "security_group_rule",
             "floatingips": "floatingip", "os-keypairs": "keypair"}


class Leak:
    """Another tenant's resources leak. Remembers what each token creates
    (a 2xx to ``POST /<service>/.../<collection>``, in any phase of a test)
    and, in the tests' calls, adds what *other* tokens created in the same
    service and collection to every list of it (``GET .../<collection>``,
    ``.../<collection>/detail``, whatever the filters) and answers a
    ``GET .../<collection>/<id>`` that is a 403 or 404 with 200 and the
    other token's resource. ``services`` limits it (``("compute",)``);
    ``shows=False`` leaves the 404s alone."""

    def __init__(self, name: str = "leak", services: Iterable[str] = (), *, lists: bool = True,
                 shows: bool = True, lists_of: Callable[[str], bool] | None = None):
        self.name = name
        self.lists_of = lists_of  # which list routes to leak into (all when None)
        self.services = tuple(services)
        self.lists, self.shows = lists, shows
        self.created: dict[tuple[str, str], list[tuple[str, dict]]] = {}  # (service, collection) -> (token, body)
        self.lock = threading.Lock()
        self.applied = 0

    @staticmethod
    def _where(route: str) -> tuple[str, list[str]]:
        parts = [p for p in route.split("/") if p]
        return (parts[0] if parts else ""), parts[1:]

    def _mine(self, service: str) -> bool:
        return not self.services or service in self.services

    def __call__(self, ex: Exchange) -> bool:
        service, parts = self._where(ex.route)
        if not parts or not self._mine(service):
            return False
        token = ex.request_headers.get("x-auth-token", "")
        if ex.method == "POST" and 200 <= ex.status < 300:
            self._remember(service, parts[-1], token, ex.json())
            return False
        if ex.method == "GET" and ex.status == 200 and len(parts) > 1:
            self._learn(service, parts[-2], parts[-1], token, ex.json())  # the owner's full view of it
        if ex.method != "GET" or (ex.phase is not None and ex.phase != "call"):
            return False
        if self.lists and ex.status == 200 and (self.lists_of is None or self.lists_of(ex.route)):
            collection = parts[-2] if parts[-1] == "detail" and len(parts) > 1 else parts[-1]
            if self._leak_into_list(ex, service, collection, token):
                return self._count()
        if self.shows and ex.status in (403, 404) and len(parts) > 1:
            if self._leak_show(ex, service, parts[-2], parts[-1], token):
                return self._count()
        return False

    def _count(self) -> bool:
        with self.lock:
            self.applied += 1
        return True

    def _remember(self, service: str, collection: str, token: str, body: Any) -> None:
        if not isinstance(body, dict):
            return
        singular = _SINGULAR.get(collection, collection[:-1] if collection.endswith("s") else collection)
        item = body.get(singular) if isinstance(body.get(singular), dict) else body
        if not isinstance(item, dict) or not (item.get("id") or item.get("name")):
            return
        with self.lock:
            self.created.setdefault((service, collection), []).append((token, item))

    def _learn(self, service: str, collection: str, ident: str, token: str, body: Any) -> None:
        singular = _SINGULAR.get(collection, collection[:-1] if collection.endswith("s") else collection)
        shown = body.get(singular) if isinstance(body, dict) and service != "image" else body
        if not isinstance(shown, dict):
            return
        with self.lock:
            for t, item in self.created.get((service, collection), ()):
                if t == token and ident in (item.get("id"), item.get("name")):
                    item.update(shown)

    def _others(self, service: str, collection: str, token: str) -> list[dict]:
        with self.lock:
            return [item for t, item in self.created.get((service, collection), ()) if t != token]

    def _leak_into_list(self, ex: Exchange, service: str, collection: str, token: str) -> bool:
        body = ex.json()
        others = self._others(service, collection, token)
        if not isinstance(body, dict) or not others:
            return False
        key = next((k for k, v in body.items() if isinstance(v, list)), None)
        if key is None:
            return False
        wrapped = collection == "os-keypairs"  # {"keypairs": [{"keypair": {...}}]}
        listed = {json.dumps(i, sort_keys=True) for i in body[key]}
        sample = body[key][0] if body[key] and isinstance(body[key][0], dict) else None
        if sample is not None:  # as the list shows its own (a brief list: id, name, links)
            inner = sample.get("keypair") if wrapped else sample
            keys = set(inner) if isinstance(inner, dict) else set()
            others = [{k: v for k, v in o.items() if k in keys} or o for o in others]
        extra = [{"keypair": o} if wrapped else o for o in others]
        extra = [e for e in extra if json.dumps(e, sort_keys=True) not in listed]
        if not extra:
            return False
        body[key].extend(extra)
        ex.set_json(body)
        return True

    def _leak_show(self, ex: Exchange, service: str, collection: str, ident: str, token: str) -> bool:
        found = [o for o in self._others(service, collection, token) if ident in (o.get("id"), o.get("name"))]
        if not found:
            return False
        singular = _SINGULAR.get(collection, collection[:-1] if collection.endswith("s") else collection)
        ex.status = 200
        ex.set_json(found[0] if service == "image" else {singular: found[0]})
        return True


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
        self.mutation: Callable[[Exchange], Any] | None = None
        self.requests = 0
        self.phase: str | None = None  # None until the suite's phase plugin says one
        self.test = ""
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

            def _control(self, body: bytes) -> None:
                try:
                    told = json.loads(body)
                    proxy.phase, proxy.test = str(told["phase"]), str(told.get("nodeid", ""))
                    status = 204
                except (ValueError, KeyError, TypeError):
                    status = 400
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def _handle(self) -> None:
                body = self._body()
                if self.path == CONTROL_PATH and self.command == "POST":
                    self._control(body)
                    return
                proxy.requests += 1
                phase, test = proxy.phase, proxy.test
                mutation = proxy.mutation
                request_headers = {k.lower(): v for k, v in self.headers.items()}
                request = Request(self.command, self.path, dict(request_headers), body, phase, test)
                rewrite = getattr(mutation, "rewrite_request", None)
                rewritten_by = tuple(rewrite(request)) if rewrite is not None else ()
                headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP}
                headers["Host"] = proxy.upstream_host
                if request.body or request.method in ("POST", "PUT", "PATCH"):
                    headers["Content-Length"] = str(len(request.body))
                conn = http.client.HTTPConnection(proxy.upstream_host, proxy.upstream_port, timeout=proxy.timeout)
                try:
                    conn.request(request.method, request.path, body=request.body or None, headers=headers)
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
                ex = Exchange(self.command, self.path, request_headers, body, status, out_headers,
                              proxy.rewrite(data, out_headers), phase, test, rewritten_by)
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
