"""Neutron v2.0, mounted at ``/network`` (the catalog's ``network`` entry),
over the reference cloud's network library.

* :mod:`.network_routes_misc`: version discovery, extensions, quotas, subnet pools;
* :mod:`.network_routes_l2`: networks, subnets, ports;
* :mod:`.network_routes_l3`: routers (with extra routes) and floating IPs;
* :mod:`.network_routes_sg`: security groups and rules;
* :mod:`.network_routes_tags`: tags of all of them.

What every route shares (policy, errors, list filters/sorting/pagination) is
in :mod:`.network_base`; the standard attributes, subnet pools and quotas the
library does not keep are API records (:mod:`.network_store`).
"""

from __future__ import annotations

from . import network_routes_l2, network_routes_l3, network_routes_misc, network_routes_sg  # noqa: F401
from . import network_routes_tags  # noqa: F401  (after the resources: it finds them)
from .network_base import service as service  # noqa: PLC0414  (the service services.py mounts)
from .network_store import SCHEMA as SCHEMA  # noqa: PLC0414
