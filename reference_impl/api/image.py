"""Glance v2 (being written)."""

from __future__ import annotations

from .routing import Service

SCHEMA = ""

service = Service("glance", "/image", title="image")
