"""Microversion negotiation: which version to ask for, or why a test cannot run.

Nova, Cinder, Manila, Ironic, Placement advertise a range in their version
document (``{"version": {"min_version": "2.1", "version": "2.95", ...}}``);
an empty ``version`` means the service has no microversions. A test says
which versions it can use (``needs_min``, optionally ``needs_max``);
:func:`negotiate` picks one both sides support (the lowest by default: a test
asks for the behaviour it was written for) or raises
:class:`MicroversionUnsupported` with a reason fit for a skip message.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Mapping

__all__ = ["APIVersion", "MicroversionUnsupported", "advertised_range", "negotiate"]

_VERSION_RE = re.compile(r"v?(\d+)\.(\d+)")


@dataclass(frozen=True, order=True)
class APIVersion:
    major: int
    minor: int

    @classmethod
    def parse(cls, text: "str | APIVersion") -> "APIVersion":
        if isinstance(text, APIVersion):
            return text
        match = _VERSION_RE.fullmatch(str(text).strip())
        if not match:
            raise ValueError(f"invalid API version {text!r}: expected MAJOR.MINOR, e.g. 2.79")
        return cls(int(match.group(1)), int(match.group(2)))

    def __str__(self) -> str:
        return f"{self.major}.{self.minor}"


class MicroversionUnsupported(Exception):
    """The cloud cannot serve the versions a test needs; ``reason`` says why."""

    def __init__(self, reason: str):
        self.reason = reason
        super().__init__(reason)


def advertised_range(document: Mapping[str, Any]) -> tuple[APIVersion, APIVersion] | None:
    """The (min, max) microversions of a version document (``{"version": {...}}``
    or the inner mapping); None when the service has no microversions."""
    inner = document.get("version", document)
    if not isinstance(inner, Mapping):
        raise ValueError("not a version document: 'version' is not a mapping")
    high, low = inner.get("version") or inner.get("max_version"), inner.get("min_version")
    if not high:
        return None
    return APIVersion.parse(low or high), APIVersion.parse(high)


def negotiate(
    advertised: tuple[str | APIVersion, str | APIVersion] | None,
    *,
    needs_min: str | APIVersion | None = None,
    needs_max: str | APIVersion | None = None,
    prefer: str = "lowest",
    service: str = "the service",
) -> APIVersion | None:
    """The microversion to request, or None to send no microversion header.

    ``advertised`` is the cloud's (min, max), or None when it has none.
    ``prefer`` is ``lowest`` (default) or ``highest`` of the usable versions.
    """
    if prefer not in ("lowest", "highest"):
        raise ValueError(f"prefer must be 'lowest' or 'highest', got {prefer!r}")
    lo_need = None if needs_min is None else APIVersion.parse(needs_min)
    hi_need = None if needs_max is None else APIVersion.parse(needs_max)
    if lo_need and hi_need and lo_need > hi_need:
        raise ValueError(f"needs_min {lo_need} is above needs_max {hi_need}")
    if lo_need is None and hi_need is None:
        return None
    if advertised is None:
        raise MicroversionUnsupported(f"{service} supports no microversions; the test needs {_needs(lo_need, hi_need)}")
    lo_cloud, hi_cloud = APIVersion.parse(advertised[0]), APIVersion.parse(advertised[1])
    for need in (lo_need, hi_need):
        if need is not None and need.major != hi_cloud.major:
            raise MicroversionUnsupported(
                f"{service} speaks major version {hi_cloud.major}; the test needs {_needs(lo_need, hi_need)}"
            )
    low = max(lo_cloud, lo_need) if lo_need else lo_cloud
    high = min(hi_cloud, hi_need) if hi_need else hi_cloud
    if low > high:
        raise MicroversionUnsupported(
            f"{service} supports microversions {lo_cloud} to {hi_cloud}; the test needs {_needs(lo_need, hi_need)}"
        )
    return low if prefer == "lowest" else high


def _needs(low: APIVersion | None, high: APIVersion | None) -> str:
    if low and high:
        return f"{low} to {high}"
    return f"at least {low}" if low else f"at most {high}"
