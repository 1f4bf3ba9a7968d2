"""What every Nova route shares: the service object, microversion
negotiation, input checks and the mapping of the compute and network
libraries' exceptions to Nova's error responses.

Microversions (see :mod:`.compute_api` for what each claimed one does):
``OpenStack-API-Version: compute X.Y`` wins over the legacy
``X-OpenStack-Nova-API-Version: X.Y``; ``latest`` is the maximum; no header
is 2.1. A malformed version is a 400, one outside [2.1, max] a 406. The
version served is echoed in both headers with ``Vary`` naming them.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Iterator

from . import errors as E
from . import microversions
from .microversions import VERSION_HEADER, vstr
from .routing import ApiRequest, Service

MIN_VERSION = (2, 1)
MAX_VERSION = (2, 89)
LEGACY_HEADER = "X-OpenStack-Nova-API-Version"


def requested_version(headers: Any) -> tuple[int, int]:
    return microversions.requested_version(headers, "compute", MIN_VERSION, MAX_VERSION,
                                           legacy_header=LEGACY_HEADER)


def negotiate(req: ApiRequest) -> None:
    """The service's ``before`` hook."""
    version = requested_version(req.headers)
    req.microversion = version
    req.response_headers[VERSION_HEADER] = f"compute {vstr(version)}"
    req.response_headers[LEGACY_HEADER] = vstr(version)
    req.response_headers["Vary"] = f"{VERSION_HEADER}, {LEGACY_HEADER}"


service = Service("nova", "/compute", title="compute", before=negotiate)
route = service.route


def mv(req: ApiRequest, major_minor: str) -> bool:
    """True when the request's microversion is at least ``major_minor``."""
    major, minor = (int(x) for x in major_minor.split("."))
    return (req.microversion or MIN_VERSION) >= (major, minor)


def self_links(req: ApiRequest, kind: str, ident: str) -> list[dict]:
    base = req.base_url
    return [{"rel": "self", "href": f"{base}/v2.1/{kind}/{ident}"},
            {"rel": "bookmark", "href": f"{base}/{kind}/{ident}"}]


# -- pagination -------------------------------------------------------------------------------
def paginate(req: ApiRequest, items: list[dict], *, key: str = "id", max_limit: int = 1000,
             marker_kind: str = "marker") -> tuple[list[dict], bool]:
    """``limit`` and ``marker`` over an ordered list; True when a next page may exist.
    An unknown marker is a 400 (Nova's ``marker [x] not found``)."""
    limit = req.query_int("limit", None, minimum=0)
    marker = req.query_one("marker")
    if marker is not None:
        index = next((i for i, item in enumerate(items) if str(item[key]) == marker), None)
        if index is None:
            raise E.BadRequest(f"{marker_kind} [{marker}] not found")
        items = items[index + 1:]
    effective = min(limit, max_limit) if limit is not None else max_limit
    page = items[:effective]
    more = limit is not None and len(items) > len(page) or (limit is None and len(items) > max_limit)
    return page, more


def next_link(req: ApiRequest, kind: str, last_id: str) -> list[dict]:
    params = [(k, v) for k, v in req.query.multi_items() if k != "marker"]
    params.append(("marker", last_id))
    from urllib.parse import urlencode
    return [{"rel": "next", "href": f"{req.base_url}/v2.1/{kind}?{urlencode(params)}"}]


# -- errors of the libraries ------------------------------------------------------------------
@contextmanager
def library_errors(what: str = "") -> Iterator[None]:
    """Turn the compute and network libraries' exceptions into Nova's
    responses (400/404/409; a library 500 stays a 500 with its message)."""
    from ..compute import errors as CE
    try:
        yield
    except E.ApiError:
        raise
    except CE.ComputeError as exc:
        status = getattr(exc, "http_status", 500)
        if isinstance(exc, CE.NoValidHost):
            raise E.ApiError(f"No valid host was found. {exc}", status=500) from exc
        raise E.ApiError(f"{what}{exc}", status=status) from exc
    except Exception as exc:  # the network library's errors carry .status
        status = getattr(exc, "status", None)
        if isinstance(status, int) and 400 <= status < 600 and type(exc).__module__.endswith("network.errors"):
            raise E.ApiError(f"{what}{exc}", status=status) from exc
        raise
