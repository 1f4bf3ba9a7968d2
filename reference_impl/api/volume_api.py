"""Cinder v3, mounted at ``/volume`` (the catalog's ``block-storage`` and
``volumev3`` entries point at ``/volume/v3``).

Filled in by issue 6: version discovery, microversions, volumes, snapshots,
metadata, types, availability zones and quotas over RBD in pool ``volumes``.
"""

from __future__ import annotations

from .routing import Service

service = Service("cinder", "/volume", title="block-storage")
SCHEMA = ""
