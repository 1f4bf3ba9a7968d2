"""Errors of the network library.

Every refusal is raised *before* anything is changed (state or kernel). Each
class carries the HTTP status and the Neutron error type an OpenStack API
layer should answer with, so the API can map them without a table of its own:
``{"NeutronError": {"type": exc.neutron_type, "message": str(exc), "detail": ""}}``.
"""

from __future__ import annotations


class NetworkError(Exception):
    """Base class. ``status`` is the HTTP status an API should answer with."""

    status = 500
    neutron_type = "NeutronError"


# -- 400 -----------------------------------------------------------------------
class BadRequest(NetworkError):
    status = 400
    neutron_type = "BadRequest"


class InvalidInput(BadRequest):
    """A value is malformed or out of range (a CIDR, a MAC, a port range...)."""

    neutron_type = "InvalidInput"


class InvalidIpForSubnet(BadRequest):
    """A requested address is not inside the subnet (or is its network/broadcast address)."""

    neutron_type = "InvalidIpForSubnet"


class SubnetOverlap(BadRequest):
    """Two subnets that must not overlap do (on one network, or on one router)."""

    neutron_type = "BadRequest"


class UnsupportedFeature(BadRequest):
    """A valid OpenStack request the reference cloud does not implement (e.g. DHCPv6)."""

    neutron_type = "BadRequest"


# -- 404 -----------------------------------------------------------------------
class NotFound(NetworkError):
    status = 404
    neutron_type = "NotFound"
    kind = "resource"

    def __init__(self, resource_id: str, message: str | None = None):
        self.resource_id = resource_id
        super().__init__(message or f"{self.kind} {resource_id} could not be found")


class NetworkNotFound(NotFound):
    neutron_type = "NetworkNotFound"
    kind = "network"


class SubnetNotFound(NotFound):
    neutron_type = "SubnetNotFound"
    kind = "subnet"


class PortNotFound(NotFound):
    neutron_type = "PortNotFound"
    kind = "port"


class RouterNotFound(NotFound):
    neutron_type = "RouterNotFound"
    kind = "router"


class RouterInterfaceNotFound(NotFound):
    neutron_type = "RouterInterfaceNotFoundForSubnet"
    kind = "router interface"


class FloatingIPNotFound(NotFound):
    neutron_type = "FloatingIPNotFound"
    kind = "floating IP"


class SecurityGroupNotFound(NotFound):
    neutron_type = "SecurityGroupNotFound"
    kind = "security group"


class SecurityGroupRuleNotFound(NotFound):
    neutron_type = "SecurityGroupRuleNotFound"
    kind = "security group rule"


class ExternalGatewayNotFound(NotFound):
    """A floating IP's port is not behind a router with a gateway on that external network."""

    neutron_type = "ExternalGatewayForFloatingIPNotFound"
    kind = "external gateway"


class HostNotFound(NotFound):
    neutron_type = "HostNotFound"
    kind = "compute host"


# -- 409 -----------------------------------------------------------------------
class Conflict(NetworkError):
    status = 409
    neutron_type = "Conflict"


class IpAddressInUse(Conflict):
    neutron_type = "IpAddressInUse"


class MacAddressInUse(Conflict):
    neutron_type = "MacAddressInUse"


class IpAddressGenerationFailure(Conflict):
    """No free address left in the subnet's allocation pools."""

    neutron_type = "IpAddressGenerationFailure"


class VniInUse(Conflict):
    """The segmentation id (VXLAN VNI) is used by another network."""

    neutron_type = "TunnelIdInUse"


class NoFreeVni(Conflict):
    neutron_type = "NoNetworkAvailable"


class NetworkInUse(Conflict):
    neutron_type = "NetworkInUse"


class SubnetInUse(Conflict):
    neutron_type = "SubnetInUse"


class RouterInUse(Conflict):
    neutron_type = "RouterInUse"


class RouterInterfaceInUse(Conflict):
    """A subnet is already attached to the router, or its gateway address is taken."""

    neutron_type = "BadRequest"


class RouterInterfaceInUseByRoute(Conflict):
    """An extra route of the router has its nexthop on the interface's subnet."""

    neutron_type = "RouterInterfaceInUseByRoute"


class SecurityGroupInUse(Conflict):
    neutron_type = "SecurityGroupInUse"


class SecurityGroupRuleExists(Conflict):
    neutron_type = "SecurityGroupRuleExists"


class FloatingIpInUse(Conflict):
    """A floating IP address, or the fixed address it would map to, is taken."""

    neutron_type = "FloatingIPPortAlreadyAssociated"


class ExternalNetworkConflict(Conflict):
    """An external subnet overlaps an address some interface of the machine already uses."""

    neutron_type = "Conflict"


class LimitExceeded(Conflict):
    neutron_type = "OverQuota"


# -- 500 -----------------------------------------------------------------------
class DataPlaneError(NetworkError):
    """Applying a change to the kernel failed; the previous state was re-applied."""

    status = 500
    neutron_type = "NeutronError"
