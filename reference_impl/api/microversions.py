"""Microversions as Nova and Cinder negotiate them (pure).

``OpenStack-API-Version: <service type> X.Y`` (several services may be
named, comma-separated); ``latest`` is the maximum; no header is the
minimum. A malformed version or header is a 400, a version outside
[minimum, maximum] a 406.
"""

from __future__ import annotations

import re
from typing import Any

from . import errors as E

VERSION_HEADER = "OpenStack-API-Version"
_VERSION_RE = re.compile(r"^([1-9]\d*)\.([1-9]\d*|0)$")

Version = tuple[int, int]


def vstr(version: Version) -> str:
    return f"{version[0]}.{version[1]}"


def parse_version(text: str, minimum: Version, maximum: Version) -> Version:
    text = text.strip()
    if text.lower() == "latest":
        return maximum
    match = _VERSION_RE.match(text)
    if not match:
        raise E.BadRequest(f"API Version String {text!r} is of invalid format. It must be of format "
                           "'major.minor' or 'latest'.")
    version = (int(match.group(1)), int(match.group(2)))
    if not minimum <= version <= maximum:
        raise E.NotAcceptable(f"Version {text} is not supported by the API. Minimum is {vstr(minimum)} and "
                              f"maximum is {vstr(maximum)}.")
    return version


def requested_version(headers: Any, service_type: str, minimum: Version, maximum: Version, *,
                      legacy_header: str | None = None) -> Version:
    """The version a request asks ``service_type`` for; ``legacy_header``
    (e.g. Nova's ``X-OpenStack-Nova-API-Version: X.Y``) is read when the
    standard header does not name the service."""
    value = headers.get(VERSION_HEADER)
    if value:
        for part in value.split(","):
            words = part.strip().split()
            if len(words) != 2:
                raise E.BadRequest(f"Invalid {VERSION_HEADER} header {value!r}: expected "
                                   f"'{service_type} <major.minor>'")
            if words[0].lower() == service_type:
                return parse_version(words[1], minimum, maximum)
    legacy = headers.get(legacy_header) if legacy_header else None
    if legacy:
        return parse_version(legacy, minimum, maximum)
    return minimum
