"""Nova v2.1 (being written)."""

from __future__ import annotations

from .routing import Service

SCHEMA = ""

service = Service("nova", "/compute", title="compute")
