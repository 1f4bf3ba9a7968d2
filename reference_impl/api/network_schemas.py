"""JSON schemas of Neutron's request bodies: the types of the attributes
(a 400 names the field). What depends on the cloud's state (overlaps,
visibility, quotas) is checked by the handlers and the network library."""

from __future__ import annotations

from .network_base import wrapped

NAME = {"type": "string", "maxLength": 255}
DESCRIPTION = {"type": "string", "maxLength": 255}
BOOL = {"type": "boolean"}
ID = {"type": "string", "minLength": 1, "maxLength": 255}
OPTIONAL_ID = {"type": ["string", "null"], "maxLength": 255}
TAGS = {"type": "array", "items": {"type": "string", "minLength": 1, "maxLength": 255}}
INT = {"type": "integer"}
INT_TEXT = {"type": ["integer", "string", "null"]}  # Neutron converts "22" to 22
STRINGS = {"type": "array", "items": {"type": "string"}}
OWNER = {"tenant_id": ID, "project_id": ID}
COMMON = {"name": NAME, "description": DESCRIPTION, "tags": TAGS, **OWNER}
HOST_ROUTES = {"type": "array", "items": {"type": "object", "required": ["destination", "nexthop"],
                                          "properties": {"destination": {"type": "string"},
                                                         "nexthop": {"type": "string"}}}}
POOLS = {"type": ["array", "null"], "items": {"type": "object", "required": ["start", "end"],
                                              "properties": {"start": {"type": "string"},
                                                             "end": {"type": "string"}}}}
FIXED_IPS = {"type": ["array", "null"], "items": {"type": "object", "properties": {
    "subnet_id": {"type": "string"}, "ip_address": {"type": "string"}}}}

_NETWORK = {"admin_state_up": BOOL, "shared": BOOL, "router:external": BOOL, "mtu": INT,
            "provider:network_type": {"type": ["string", "null"]},
            "provider:physical_network": {"type": ["string", "null"]},
            "provider:segmentation_id": {"type": ["integer", "null"]}, "port_security_enabled": BOOL,
            "availability_zone_hints": STRINGS, "is_default": BOOL}
NETWORK_CREATE = wrapped("network", {**COMMON, **_NETWORK}, bulk=True)
NETWORK_UPDATE = wrapped("network", {"name": NAME, "description": DESCRIPTION, **_NETWORK})

_SUBNET = {"gateway_ip": {"type": ["string", "null"]}, "enable_dhcp": BOOL, "dns_nameservers": STRINGS,
           "host_routes": HOST_ROUTES, "allocation_pools": POOLS, "service_types": STRINGS}
SUBNET_CREATE = wrapped("subnet", {**COMMON, **_SUBNET, "network_id": ID, "ip_version": {"enum": [4, 6]},
                                   "cidr": {"type": ["string", "null"]}, "subnetpool_id": OPTIONAL_ID,
                                   "prefixlen": INT_TEXT, "ipv6_address_mode": {"type": ["string", "null"]},
                                   "ipv6_ra_mode": {"type": ["string", "null"]},
                                   "use_default_subnetpool": BOOL, "segment_id": OPTIONAL_ID},
                        ("network_id",), bulk=True)
SUBNET_UPDATE = wrapped("subnet", {"name": NAME, "description": DESCRIPTION, **_SUBNET})

_PORT = {"admin_state_up": BOOL, "mac_address": {"type": "string"}, "fixed_ips": FIXED_IPS,
         "device_id": {"type": ["string", "null"], "maxLength": 255},
         "device_owner": {"type": ["string", "null"], "maxLength": 255},
         "security_groups": {"type": ["array", "null"], "items": {"type": "string"}},
         "port_security_enabled": BOOL, "binding:host_id": {"type": ["string", "null"]},
         "binding:vnic_type": {"type": "string"}, "binding:profile": {"type": ["object", "null"]},
         "allowed_address_pairs": {"type": ["array", "null"]}, "extra_dhcp_opts": {"type": ["array", "null"]}}
PORT_CREATE = wrapped("port", {**COMMON, **_PORT, "network_id": ID}, ("network_id",), bulk=True)
PORT_UPDATE = wrapped("port", {"name": NAME, "description": DESCRIPTION, **_PORT})

GATEWAY = {"type": ["object", "null"], "properties": {
    "network_id": {"type": "string"}, "enable_snat": BOOL,
    "external_fixed_ips": {"type": ["array", "null"], "items": {"type": "object"}}}}
ROUTES = {"type": ["array", "null"], "items": {"type": "object", "required": ["destination", "nexthop"],
                                               "properties": {"destination": {"type": "string"},
                                                              "nexthop": {"type": "string"}}}}
_ROUTER = {"admin_state_up": BOOL, "external_gateway_info": GATEWAY, "distributed": BOOL, "ha": BOOL}
ROUTER_CREATE = wrapped("router", {**COMMON, **_ROUTER, "availability_zone_hints": STRINGS})
ROUTER_UPDATE = wrapped("router", {"name": NAME, "description": DESCRIPTION, "routes": ROUTES, **_ROUTER})
EXTRAROUTES = wrapped("router", {"routes": ROUTES}, ("routes",))
INTERFACE = {"type": "object", "properties": {"subnet_id": {"type": ["string", "null"]},
                                              "port_id": {"type": ["string", "null"]}}}

FIP_CREATE = wrapped("floatingip", {**COMMON, "floating_network_id": ID, "port_id": OPTIONAL_ID,
                                    "fixed_ip_address": {"type": ["string", "null"]},
                                    "floating_ip_address": {"type": ["string", "null"]},
                                    "subnet_id": OPTIONAL_ID}, ("floating_network_id",))
FIP_UPDATE = wrapped("floatingip", {"port_id": OPTIONAL_ID, "fixed_ip_address": {"type": ["string", "null"]},
                                    "description": DESCRIPTION})

GROUP_CREATE = wrapped("security_group", {**COMMON, "stateful": BOOL})
GROUP_UPDATE = wrapped("security_group", {"name": NAME, "description": DESCRIPTION, "stateful": BOOL})
RULE_CREATE = wrapped("security_group_rule", {
    **OWNER, "description": DESCRIPTION, "security_group_id": ID, "direction": {"type": "string"},
    "ethertype": {"type": "string"}, "protocol": {"type": ["string", "integer", "null"]},
    "port_range_min": INT_TEXT, "port_range_max": INT_TEXT, "remote_ip_prefix": {"type": ["string", "null"]},
    "remote_group_id": OPTIONAL_ID, "remote_address_group_id": OPTIONAL_ID},
    ("security_group_id", "direction"))

_POOL = {"prefixes": {"type": ["array", "string"], "items": {"type": "string"}},
         "default_prefixlen": INT_TEXT, "min_prefixlen": INT_TEXT, "max_prefixlen": INT_TEXT, "is_default": BOOL,
         "address_scope_id": OPTIONAL_ID, "default_quota": {"type": ["integer", "null"]}}
POOL_CREATE = wrapped("subnetpool", {**COMMON, **_POOL, "shared": BOOL}, ("prefixes",))
POOL_UPDATE = wrapped("subnetpool", {"name": NAME, "description": DESCRIPTION, **_POOL})

QUOTA_UPDATE = wrapped("quota", {})
TAGS_REPLACE = {"type": "object", "properties": {"tags": TAGS}, "required": ["tags"]}
