"""Neutron v2.0, mounted at ``/network`` (the catalog's ``network`` entry).

Filled in by issue 6: version discovery, extensions, networks, subnets,
subnet pools, ports, routers, security groups, floating IPs and quotas over
the reference cloud's network library.
"""

from __future__ import annotations

from .routing import Service

service = Service("neutron", "/network", title="network")
SCHEMA = ""
