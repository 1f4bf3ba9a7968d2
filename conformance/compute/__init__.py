"""Conformance tests of the Compute API (Nova v2.1)."""
