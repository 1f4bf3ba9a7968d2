"""What the cloud under test says it runs: each API's version (and
microversion range), for the report's environment.

:func:`api_versions` asks every service of the catalog for its version
document; :func:`describe_versions` (pure, tested on recorded documents)
turns those documents into one line per service. A service that does not
answer is reported as such; discovery never fails a run.
"""

from __future__ import annotations

from typing import Any, Mapping

__all__ = ["SERVICES", "api_versions", "describe_versions"]

#: catalog service type -> the name the report uses
SERVICES = {"identity": "identity API", "compute": "compute API", "image": "image API",
            "network": "network API", "block-storage": "block-storage API"}
TIMEOUT = 10.0


def _current(versions: Any) -> Mapping[str, Any] | None:
    """The CURRENT (or stable, or only) version of a versions list."""
    if isinstance(versions, Mapping):
        versions = versions.get("values", [])
    if not isinstance(versions, list) or not versions:
        return None
    for status in ("CURRENT", "stable", "SUPPORTED"):
        for v in versions:
            if isinstance(v, Mapping) and str(v.get("status", "")).lower() == status.lower():
                return v
    return versions[0] if isinstance(versions[0], Mapping) else None


def describe_versions(service: str, document: Any) -> str | None:
    """``v2.1 (microversions 2.1–2.89)``, ``v3.14``, … from a version document
    (``{"version": …}`` or ``{"versions": …}``); None when it is neither."""
    if not isinstance(document, Mapping):
        return None
    version = document.get("version")
    if not isinstance(version, Mapping):
        version = _current(document.get("versions"))
    if not isinstance(version, Mapping) or not version.get("id"):
        return None
    text = str(version["id"])
    low, high = version.get("min_version"), version.get("version")
    if low and high:
        text += f" (microversions {low}–{high})"
    return text


def api_versions(conn: Any, *, timeout: float = TIMEOUT) -> dict[str, str]:
    """Service -> its version line, for the services in the catalog."""
    found: dict[str, str] = {}
    for service, label in SERVICES.items():
        try:
            interface = conn.config.get_interface() or "public"
            endpoint = conn.session.get_endpoint(service_type=service, interface=interface)
        except Exception:  # not in the catalog
            continue
        if not endpoint:
            continue
        urls = [endpoint.rstrip("/") + "/"]
        if service in ("image", "identity", "network"):  # their version documents live at the unversioned root
            root = endpoint.rstrip("/")
            for tail in ("/v2.0", "/v2", "/v3"):
                if root.endswith(tail):
                    root = root[: -len(tail)]
            urls.insert(0, root + ("/versions" if service == "image" else "/"))
        text = None
        for url in urls:
            try:
                resp = conn.session.get(url, raise_exc=False, timeout=timeout, authenticated=True,
                                        headers={"Accept": "application/json"})
                text = describe_versions(service, resp.json()) if resp.status_code in (200, 300) else None
            except Exception:
                text = None
            if text:
                break
        found[label] = text or "no version document"
    return found
