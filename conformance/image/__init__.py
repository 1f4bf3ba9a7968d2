"""Conformance: the Image v2 API (Glance)."""
