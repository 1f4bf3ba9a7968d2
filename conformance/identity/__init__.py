"""Conformance: the Identity v3 API (Keystone)."""
