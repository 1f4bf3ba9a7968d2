"""The reference cloud's tenant networks: VXLAN overlays, routers, DHCP/SLAAC,
security groups and floating IPs, built from the kernel's own devices
(VXLAN, bridges, veth, tap), dnsmasq and nftables.

The API layer drives :class:`NetworkPlane`; ``octoprobe cloud down`` calls
:func:`teardown_all` and ``cloud up`` calls :meth:`NetworkPlane.restore`.
"""

from .errors import *  # noqa: F401,F403  (the exception classes are part of the API)
from .errors import NetworkError
from .endpoint import TestEndpoint
from .ipam import eui64_address, link_local_address, overlay_mtu
from .model import (
    FixedIP,
    FloatingIP,
    Network,
    Port,
    Router,
    SecurityGroup,
    SecurityGroupRule,
    State,
    Subnet,
)
from .plane import AUTO, UNSET, NetworkPlane, RouterInterfaceInfo
from .teardown import leftovers, teardown_all

__all__ = [
    "NetworkPlane",
    "NetworkError",
    "RouterInterfaceInfo",
    "TestEndpoint",
    "teardown_all",
    "leftovers",
    "eui64_address",
    "link_local_address",
    "overlay_mtu",
    "AUTO",
    "UNSET",
    "Network",
    "Subnet",
    "Port",
    "FixedIP",
    "Router",
    "FloatingIP",
    "SecurityGroup",
    "SecurityGroupRule",
    "State",
]
