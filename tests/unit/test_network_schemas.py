"""The network response schemas (octoprobe/schemas/network/) against
responses recorded from the reference cloud's Neutron v2.0 API, and three
shaped as an upstream Neutron (ML2) gives them (extension fields the
reference cloud lacks; a subnet pool's prefix lengths as strings), in both
modes; and that they refuse what they must."""

from __future__ import annotations

import json

import pytest

from octoprobe.schemas import ResponseSchemaError, Schemas
from schema_cases import problem_paths, recorded_from

RECORDED = json.loads(r'''
{
 "network_created": {
  "network": {
   "id": "253b4ff3-377e-4b8a-a119-cc111cbc04e7",
   "name": "octoprobe-rec1-network-a",
   "project_id": "6aefc8437e6d4488b4657c9e211751a6",
   "tenant_id": "6aefc8437e6d4488b4657c9e211751a6",
   "admin_state_up": true,
   "status": "ACTIVE",
   "subnets": [],
   "shared": false,
   "router:external": false,
   "mtu": 1450,
   "port_security_enabled": true,
   "availability_zone_hints": [],
   "availability_zones": [
    "nova"
   ],
   "ipv4_address_scope": null,
   "ipv6_address_scope": null,
   "l2_adjacency": true,
   "is_default": false,
   "description": "[octoprobe-run=rec1]",
   "tags": [],
   "created_at": "2026-11-24T10:59:17Z",
   "updated_at": "2026-11-24T10:59:17Z",
   "revision_number": 0
  }
 },
 "subnet_created": {
  "subnet": {
   "id": "c9673432-91b3-416a-a48e-c1db51466ed5",
   "name": "octoprobe-rec1-subnet-a",
   "project_id": "6aefc8437e6d4488b4657c9e211751a6",
   "tenant_id": "6aefc8437e6d4488b4657c9e211751a6",
   "network_id": "253b4ff3-377e-4b8a-a119-cc111cbc04e7",
   "ip_version": 4,
   "cidr": "10.100.200.0/28",
   "gateway_ip": "10.100.200.1",
   "enable_dhcp": true,
   "dns_nameservers": [
    "198.51.100.53"
   ],
   "host_routes": [
    {
     "destination": "192.0.2.0/24",
     "nexthop": "10.100.200.3"
    }
   ],
   "allocation_pools": [
    {
     "start": "10.100.200.2",
     "end": "10.100.200.14"
    }
   ],
   "ipv6_address_mode": null,
   "ipv6_ra_mode": null,
   "subnetpool_id": null,
   "service_types": [],
   "description": "[octoprobe-run=rec1]",
   "tags": [],
   "created_at": "2026-11-24T10:59:17Z",
   "updated_at": "2026-11-24T10:59:17Z",
   "revision_number": 0
  }
 },
 "subnet_ipv6": {
  "subnet": {
   "id": "9caae570-8177-493a-b8b0-60256d2ecefa",
   "name": "octoprobe-rec1-subnet-b",
   "project_id": "6aefc8437e6d4488b4657c9e211751a6",
   "tenant_id": "6aefc8437e6d4488b4657c9e211751a6",
   "network_id": "253b4ff3-377e-4b8a-a119-cc111cbc04e7",
   "ip_version": 6,
   "cidr": "fd00:6f63:7072:42::/64",
   "gateway_ip": "fd00:6f63:7072:42::1",
   "enable_dhcp": true,
   "dns_nameservers": [],
   "host_routes": [],
   "allocation_pools": [
    {
     "start": "fd00:6f63:7072:42::2",
     "end": "fd00:6f63:7072:42:ffff:ffff:ffff:ffff"
    }
   ],
   "ipv6_address_mode": "slaac",
   "ipv6_ra_mode": "slaac",
   "subnetpool_id": null,
   "service_types": [],
   "description": "[octoprobe-run=rec1]",
   "tags": [],
   "created_at": "2026-11-24T10:59:18Z",
   "updated_at": "2026-11-24T10:59:18Z",
   "revision_number": 0
  }
 },
 "port_created": {
  "port": {
   "id": "b7e839d0-406e-4e97-a6ce-84a796da492b",
   "name": "octoprobe-rec1-port-a",
   "project_id": "6aefc8437e6d4488b4657c9e211751a6",
   "tenant_id": "6aefc8437e6d4488b4657c9e211751a6",
   "network_id": "253b4ff3-377e-4b8a-a119-cc111cbc04e7",
   "mac_address": "fa:16:3e:f1:e7:7e",
   "admin_state_up": true,
   "status": "DOWN",
   "device_id": "",
   "device_owner": "",
   "fixed_ips": [
    {
     "subnet_id": "c9673432-91b3-416a-a48e-c1db51466ed5",
     "ip_address": "10.100.200.3"
    },
    {
     "subnet_id": "9caae570-8177-493a-b8b0-60256d2ecefa",
     "ip_address": "fd00:6f63:7072:42:f816:3eff:fef1:e77e"
    }
   ],
   "security_groups": [
    "e3cc1cc9-c79c-4f6b-88bb-94fa73883dae"
   ],
   "port_security_enabled": true,
   "allowed_address_pairs": [],
   "extra_dhcp_opts": [],
   "binding:vnic_type": "normal",
   "description": "[octoprobe-run=rec1]",
   "tags": [],
   "created_at": "2026-11-24T10:59:18Z",
   "updated_at": "2026-11-24T10:59:18Z",
   "revision_number": 0
  }
 },
 "network": {
  "network": {
   "id": "253b4ff3-377e-4b8a-a119-cc111cbc04e7",
   "name": "octoprobe-rec1-network-a",
   "project_id": "6aefc8437e6d4488b4657c9e211751a6",
   "tenant_id": "6aefc8437e6d4488b4657c9e211751a6",
   "admin_state_up": true,
   "status": "ACTIVE",
   "subnets": [
    "9caae570-8177-493a-b8b0-60256d2ecefa",
    "c9673432-91b3-416a-a48e-c1db51466ed5"
   ],
   "shared": false,
   "router:external": false,
   "mtu": 1450,
   "port_security_enabled": true,
   "availability_zone_hints": [],
   "availability_zones": [
    "nova"
   ],
   "ipv4_address_scope": null,
   "ipv6_address_scope": null,
   "l2_adjacency": true,
   "is_default": false,
   "description": "[octoprobe-run=rec1]",
   "tags": [],
   "created_at": "2026-11-24T10:59:17Z",
   "updated_at": "2026-11-24T10:59:18Z",
   "revision_number": 2
  }
 },
 "ports": {
  "ports": [
   {
    "id": "0bda1ff4-ce16-48be-ad73-3b322d8e92f8",
    "name": "",
    "project_id": "6aefc8437e6d4488b4657c9e211751a6",
    "tenant_id": "6aefc8437e6d4488b4657c9e211751a6",
    "network_id": "253b4ff3-377e-4b8a-a119-cc111cbc04e7",
    "mac_address": "fa:16:3e:98:f0:44",
    "admin_state_up": true,
    "status": "ACTIVE",
    "device_id": "dhcp-253b4ff3-377e-4b8a-a119-cc111cbc04e7",
    "device_owner": "network:dhcp",
    "fixed_ips": [
     {
      "subnet_id": "c9673432-91b3-416a-a48e-c1db51466ed5",
      "ip_address": "10.100.200.2"
     },
     {
      "subnet_id": "9caae570-8177-493a-b8b0-60256d2ecefa",
      "ip_address": "fd00:6f63:7072:42:f816:3eff:fe98:f044"
     }
    ],
    "security_groups": [],
    "port_security_enabled": false,
    "allowed_address_pairs": [],
    "extra_dhcp_opts": [],
    "binding:vnic_type": "normal",
    "description": "",
    "tags": [],
    "created_at": "2026-11-24T10:59:18Z",
    "updated_at": "2026-11-24T10:59:18Z",
    "revision_number": 0
   },
   {
    "id": "b7e839d0-406e-4e97-a6ce-84a796da492b",
    "name": "octoprobe-rec1-port-a",
    "project_id": "6aefc8437e6d4488b4657c9e211751a6",
    "tenant_id": "6aefc8437e6d4488b4657c9e211751a6",
    "network_id": "253b4ff3-377e-4b8a-a119-cc111cbc04e7",
    "mac_address": "fa:16:3e:f1:e7:7e",
    "admin_state_up": true,
    "status": "DOWN",
    "device_id": "",
    "device_owner": "",
    "fixed_ips": [
     {
      "subnet_id": "c9673432-91b3-416a-a48e-c1db51466ed5",
      "ip_address": "10.100.200.3"
     },
     {
      "subnet_id": "9caae570-8177-493a-b8b0-60256d2ecefa",
      "ip_address": "fd00:6f63:7072:42:f816:3eff:fef1:e77e"
     }
    ],
    "security_groups": [
     "e3cc1cc9-c79c-4f6b-88bb-94fa73883dae"
    ],
    "port_security_enabled": true,
    "allowed_address_pairs": [],
    "extra_dhcp_opts": [],
    "binding:vnic_type": "normal",
    "description": "[octoprobe-run=rec1]",
    "tags": [],
    "created_at": "2026-11-24T10:59:18Z",
    "updated_at": "2026-11-24T10:59:18Z",
    "revision_number": 0
   }
  ]
 },
 "router_created": {
  "router": {
   "id": "10bf7cc2-92a7-453d-b039-8bed4d192c49",
   "name": "octoprobe-rec1-router-a",
   "project_id": "6aefc8437e6d4488b4657c9e211751a6",
   "tenant_id": "6aefc8437e6d4488b4657c9e211751a6",
   "status": "ACTIVE",
   "admin_state_up": true,
   "external_gateway_info": null,
   "routes": [],
   "availability_zone_hints": [],
   "availability_zones": [
    "nova"
   ],
   "description": "[octoprobe-run=rec1]",
   "tags": [],
   "created_at": "2026-11-24T10:59:18Z",
   "updated_at": "2026-11-24T10:59:18Z",
   "revision_number": 0
  }
 },
 "router_interface": {
  "id": "10bf7cc2-92a7-453d-b039-8bed4d192c49",
  "tenant_id": "6aefc8437e6d4488b4657c9e211751a6",
  "project_id": "6aefc8437e6d4488b4657c9e211751a6",
  "port_id": "b219053b-fe1d-4ab1-a0ce-3d1845581980",
  "subnet_id": "c9673432-91b3-416a-a48e-c1db51466ed5",
  "subnet_ids": [
   "c9673432-91b3-416a-a48e-c1db51466ed5"
  ],
  "network_id": "253b4ff3-377e-4b8a-a119-cc111cbc04e7"
 },
 "router_gateway": {
  "router": {
   "id": "10bf7cc2-92a7-453d-b039-8bed4d192c49",
   "name": "octoprobe-rec1-router-a",
   "project_id": "6aefc8437e6d4488b4657c9e211751a6",
   "tenant_id": "6aefc8437e6d4488b4657c9e211751a6",
   "status": "ACTIVE",
   "admin_state_up": true,
   "external_gateway_info": {
    "network_id": "f8063a69-c9ef-41c6-b293-e0ea6801b441",
    "enable_snat": true,
    "external_fixed_ips": [
     {
      "subnet_id": "8f6c5721-4e8c-4062-a174-d1bb55cc9ae4",
      "ip_address": "198.19.82.6"
     },
     {
      "subnet_id": "2a5b73eb-41a7-457a-b67d-63a17aa28ca0",
      "ip_address": "fd6f:6374:6f82:1:f816:3eff:fe76:2c0e"
     }
    ]
   },
   "routes": [],
   "availability_zone_hints": [],
   "availability_zones": [
    "nova"
   ],
   "description": "[octoprobe-run=rec1]",
   "tags": [],
   "created_at": "2026-11-24T10:59:18Z",
   "updated_at": "2026-11-24T10:59:18Z",
   "revision_number": 2
  }
 },
 "floatingip_created": {
  "floatingip": {
   "id": "3c6e512b-76fc-4a39-b4d0-319b7650426d",
   "project_id": "6aefc8437e6d4488b4657c9e211751a6",
   "tenant_id": "6aefc8437e6d4488b4657c9e211751a6",
   "floating_network_id": "f8063a69-c9ef-41c6-b293-e0ea6801b441",
   "floating_ip_address": "198.19.82.7",
   "port_id": "b7e839d0-406e-4e97-a6ce-84a796da492b",
   "fixed_ip_address": "10.100.200.3",
   "router_id": "10bf7cc2-92a7-453d-b039-8bed4d192c49",
   "status": "ACTIVE",
   "port_details": {
    "name": "octoprobe-rec1-port-a",
    "network_id": "253b4ff3-377e-4b8a-a119-cc111cbc04e7",
    "mac_address": "fa:16:3e:f1:e7:7e",
    "admin_state_up": true,
    "status": "DOWN",
    "device_id": "",
    "device_owner": ""
   },
   "description": "[octoprobe-run=rec1]",
   "tags": [],
   "created_at": "2026-11-24T10:59:19Z",
   "updated_at": "2026-11-24T10:59:19Z",
   "revision_number": 0
  }
 },
 "floatingips": {
  "floatingips": [
   {
    "id": "3c6e512b-76fc-4a39-b4d0-319b7650426d",
    "project_id": "6aefc8437e6d4488b4657c9e211751a6",
    "tenant_id": "6aefc8437e6d4488b4657c9e211751a6",
    "floating_network_id": "f8063a69-c9ef-41c6-b293-e0ea6801b441",
    "floating_ip_address": "198.19.82.7",
    "port_id": "b7e839d0-406e-4e97-a6ce-84a796da492b",
    "fixed_ip_address": "10.100.200.3",
    "router_id": "10bf7cc2-92a7-453d-b039-8bed4d192c49",
    "status": "ACTIVE",
    "port_details": {
     "name": "octoprobe-rec1-port-a",
     "network_id": "253b4ff3-377e-4b8a-a119-cc111cbc04e7",
     "mac_address": "fa:16:3e:f1:e7:7e",
     "admin_state_up": true,
     "status": "DOWN",
     "device_id": "",
     "device_owner": ""
    },
    "description": "[octoprobe-run=rec1]",
    "tags": [],
    "created_at": "2026-11-24T10:59:19Z",
    "updated_at": "2026-11-24T10:59:19Z",
    "revision_number": 0
   }
  ]
 },
 "security_group_created": {
  "security_group": {
   "id": "39e9e259-5fc8-430b-83dd-ada30177c819",
   "name": "octoprobe-rec1-security-group-a",
   "project_id": "6aefc8437e6d4488b4657c9e211751a6",
   "tenant_id": "6aefc8437e6d4488b4657c9e211751a6",
   "description": "[octoprobe-run=rec1]",
   "security_group_rules": [
    {
     "id": "17cf2eb9-ca47-47b9-85f0-9a36c6a7a8c3",
     "project_id": "6aefc8437e6d4488b4657c9e211751a6",
     "tenant_id": "6aefc8437e6d4488b4657c9e211751a6",
     "security_group_id": "39e9e259-5fc8-430b-83dd-ada30177c819",
     "direction": "egress",
     "ethertype": "IPv4",
     "protocol": null,
     "port_range_min": null,
     "port_range_max": null,
     "remote_ip_prefix": null,
     "remote_group_id": null,
     "remote_address_group_id": null,
     "normalized_cidr": null,
     "description": "",
     "tags": [],
     "created_at": "2026-11-24T10:59:19Z",
     "updated_at": "2026-11-24T10:59:19Z",
     "revision_number": 0
    },
    {
     "id": "8745887e-16cb-47a6-b97f-8934ec5e9463",
     "project_id": "6aefc8437e6d4488b4657c9e211751a6",
     "tenant_id": "6aefc8437e6d4488b4657c9e211751a6",
     "security_group_id": "39e9e259-5fc8-430b-83dd-ada30177c819",
     "direction": "egress",
     "ethertype": "IPv6",
     "protocol": null,
     "port_range_min": null,
     "port_range_max": null,
     "remote_ip_prefix": null,
     "remote_group_id": null,
     "remote_address_group_id": null,
     "normalized_cidr": null,
     "description": "",
     "tags": [],
     "created_at": "2026-11-24T10:59:19Z",
     "updated_at": "2026-11-24T10:59:19Z",
     "revision_number": 0
    }
   ],
   "stateful": true,
   "shared": false,
   "tags": [],
   "created_at": "2026-11-24T10:59:19Z",
   "updated_at": "2026-11-24T10:59:19Z",
   "revision_number": 0
  }
 },
 "security_group_rule_created": {
  "security_group_rule": {
   "id": "0906bf11-b059-4afb-a0ba-eae8206c2f48",
   "project_id": "6aefc8437e6d4488b4657c9e211751a6",
   "tenant_id": "6aefc8437e6d4488b4657c9e211751a6",
   "security_group_id": "39e9e259-5fc8-430b-83dd-ada30177c819",
   "direction": "ingress",
   "ethertype": "IPv6",
   "protocol": "tcp",
   "port_range_min": 22,
   "port_range_max": 22,
   "remote_ip_prefix": "2001:db8::/64",
   "remote_group_id": null,
   "remote_address_group_id": null,
   "normalized_cidr": "2001:db8::/64",
   "description": "",
   "tags": [],
   "created_at": "2026-11-24T10:59:19Z",
   "updated_at": "2026-11-24T10:59:19Z",
   "revision_number": 0
  }
 },
 "security_group_rules": {
  "security_group_rules": [
   {
    "id": "17cf2eb9-ca47-47b9-85f0-9a36c6a7a8c3",
    "project_id": "6aefc8437e6d4488b4657c9e211751a6",
    "tenant_id": "6aefc8437e6d4488b4657c9e211751a6",
    "security_group_id": "39e9e259-5fc8-430b-83dd-ada30177c819",
    "direction": "egress",
    "ethertype": "IPv4",
    "protocol": null,
    "port_range_min": null,
    "port_range_max": null,
    "remote_ip_prefix": null,
    "remote_group_id": null,
    "remote_address_group_id": null,
    "normalized_cidr": null,
    "description": "",
    "tags": [],
    "created_at": "2026-11-24T10:59:19Z",
    "updated_at": "2026-11-24T10:59:19Z",
    "revision_number": 0
   },
   {
    "id": "8745887e-16cb-47a6-b97f-8934ec5e9463",
    "project_id": "6aefc8437e6d4488b4657c9e211751a6",
    "tenant_id": "6aefc8437e6d4488b4657c9e211751a6",
    "security_group_id": "39e9e259-5fc8-430b-83dd-ada30177c819",
    "direction": "egress",
    "ethertype": "IPv6",
    "protocol": null,
    "port_range_min": null,
    "port_range_max": null,
    "remote_ip_prefix": null,
    "remote_group_id": null,
    "remote_address_group_id": null,
    "normalized_cidr": null,
    "description": "",
    "tags": [],
    "created_at": "2026-11-24T10:59:19Z",
    "updated_at": "2026-11-24T10:59:19Z",
    "revision_number": 0
   },
   {
    "id": "0906bf11-b059-4afb-a0ba-eae8206c2f48",
    "project_id": "6aefc8437e6d4488b4657c9e211751a6",
    "tenant_id": "6aefc8437e6d4488b4657c9e211751a6",
    "security_group_id": "39e9e259-5fc8-430b-83dd-ada30177c819",
    "direction": "ingress",
    "ethertype": "IPv6",
    "protocol": "tcp",
    "port_range_min": 22,
    "port_range_max": 22,
    "remote_ip_prefix": "2001:db8::/64",
    "remote_group_id": null,
    "remote_address_group_id": null,
    "normalized_cidr": "2001:db8::/64",
    "description": "",
    "tags": [],
    "created_at": "2026-11-24T10:59:19Z",
    "updated_at": "2026-11-24T10:59:19Z",
    "revision_number": 0
   }
  ]
 },
 "subnetpool_created": {
  "subnetpool": {
   "id": "88d86684-4f8b-4d15-be0b-c3006270dd71",
   "name": "octoprobe-rec1-subnetpool-a",
   "project_id": "6aefc8437e6d4488b4657c9e211751a6",
   "shared": false,
   "is_default": false,
   "description": "[octoprobe-run=rec1]",
   "tags": [],
   "address_scope_id": null,
   "default_quota": null,
   "prefixes": [
    "10.100.64.0/24"
   ],
   "ip_version": 4,
   "min_prefixlen": 8,
   "max_prefixlen": 32,
   "default_prefixlen": 28,
   "tenant_id": "6aefc8437e6d4488b4657c9e211751a6",
   "created_at": "2026-11-24T10:59:19Z",
   "updated_at": "2026-11-24T10:59:19Z",
   "revision_number": 0
  }
 },
 "subnetpools": {
  "subnetpools": [
   {
    "address_scope_id": null,
    "default_prefixlen": 28,
    "default_quota": null,
    "description": "[octoprobe-run=rec1]",
    "id": "88d86684-4f8b-4d15-be0b-c3006270dd71",
    "ip_version": 4,
    "is_default": false,
    "max_prefixlen": 32,
    "min_prefixlen": 8,
    "name": "octoprobe-rec1-subnetpool-a",
    "prefixes": [
     "10.100.64.0/24"
    ],
    "project_id": "6aefc8437e6d4488b4657c9e211751a6",
    "shared": false,
    "tags": [],
    "tenant_id": "6aefc8437e6d4488b4657c9e211751a6",
    "created_at": "2026-11-24T10:59:19Z",
    "updated_at": "2026-11-24T10:59:19Z",
    "revision_number": 0
   }
  ]
 },
 "routers": {
  "routers": [
   {
    "id": "10bf7cc2-92a7-453d-b039-8bed4d192c49",
    "name": "octoprobe-rec1-router-a",
    "project_id": "6aefc8437e6d4488b4657c9e211751a6",
    "tenant_id": "6aefc8437e6d4488b4657c9e211751a6",
    "status": "ACTIVE",
    "admin_state_up": true,
    "external_gateway_info": {
     "network_id": "f8063a69-c9ef-41c6-b293-e0ea6801b441",
     "enable_snat": true,
     "external_fixed_ips": [
      {
       "subnet_id": "8f6c5721-4e8c-4062-a174-d1bb55cc9ae4",
       "ip_address": "198.19.82.6"
      },
      {
       "subnet_id": "2a5b73eb-41a7-457a-b67d-63a17aa28ca0",
       "ip_address": "fd6f:6374:6f82:1:f816:3eff:fe76:2c0e"
      }
     ]
    },
    "routes": [],
    "availability_zone_hints": [],
    "availability_zones": [
     "nova"
    ],
    "description": "[octoprobe-run=rec1]",
    "tags": [],
    "created_at": "2026-11-24T10:59:18Z",
    "updated_at": "2026-11-24T10:59:18Z",
    "revision_number": 2
   }
  ]
 },
 "subnets": {
  "subnets": [
   {
    "id": "c9673432-91b3-416a-a48e-c1db51466ed5",
    "name": "octoprobe-rec1-subnet-a",
    "project_id": "6aefc8437e6d4488b4657c9e211751a6",
    "tenant_id": "6aefc8437e6d4488b4657c9e211751a6",
    "network_id": "253b4ff3-377e-4b8a-a119-cc111cbc04e7",
    "ip_version": 4,
    "cidr": "10.100.200.0/28",
    "gateway_ip": "10.100.200.1",
    "enable_dhcp": true,
    "dns_nameservers": [
     "198.51.100.53"
    ],
    "host_routes": [
     {
      "destination": "192.0.2.0/24",
      "nexthop": "10.100.200.3"
     }
    ],
    "allocation_pools": [
     {
      "start": "10.100.200.2",
      "end": "10.100.200.14"
     }
    ],
    "ipv6_address_mode": null,
    "ipv6_ra_mode": null,
    "subnetpool_id": null,
    "service_types": [],
    "description": "[octoprobe-run=rec1]",
    "tags": [],
    "created_at": "2026-11-24T10:59:17Z",
    "updated_at": "2026-11-24T10:59:17Z",
    "revision_number": 0
   },
   {
    "id": "9caae570-8177-493a-b8b0-60256d2ecefa",
    "name": "octoprobe-rec1-subnet-b",
    "project_id": "6aefc8437e6d4488b4657c9e211751a6",
    "tenant_id": "6aefc8437e6d4488b4657c9e211751a6",
    "network_id": "253b4ff3-377e-4b8a-a119-cc111cbc04e7",
    "ip_version": 6,
    "cidr": "fd00:6f63:7072:42::/64",
    "gateway_ip": "fd00:6f63:7072:42::1",
    "enable_dhcp": true,
    "dns_nameservers": [],
    "host_routes": [],
    "allocation_pools": [
     {
      "start": "fd00:6f63:7072:42::2",
      "end": "fd00:6f63:7072:42:ffff:ffff:ffff:ffff"
     }
    ],
    "ipv6_address_mode": "slaac",
    "ipv6_ra_mode": "slaac",
    "subnetpool_id": null,
    "service_types": [],
    "description": "[octoprobe-run=rec1]",
    "tags": [],
    "created_at": "2026-11-24T10:59:18Z",
    "updated_at": "2026-11-24T10:59:18Z",
    "revision_number": 0
   }
  ]
 },
 "networks": {
  "networks": [
   {
    "id": "253b4ff3-377e-4b8a-a119-cc111cbc04e7",
    "name": "octoprobe-rec1-network-a",
    "project_id": "6aefc8437e6d4488b4657c9e211751a6",
    "tenant_id": "6aefc8437e6d4488b4657c9e211751a6",
    "admin_state_up": true,
    "status": "ACTIVE",
    "subnets": [
     "9caae570-8177-493a-b8b0-60256d2ecefa",
     "c9673432-91b3-416a-a48e-c1db51466ed5"
    ],
    "shared": false,
    "router:external": false,
    "mtu": 1450,
    "port_security_enabled": true,
    "availability_zone_hints": [],
    "availability_zones": [
     "nova"
    ],
    "ipv4_address_scope": null,
    "ipv6_address_scope": null,
    "l2_adjacency": true,
    "is_default": false,
    "description": "[octoprobe-run=rec1]",
    "tags": [],
    "created_at": "2026-11-24T10:59:17Z",
    "updated_at": "2026-11-24T10:59:18Z",
    "revision_number": 2
   }
  ]
 },
 "security_groups": {
  "security_groups": [
   {
    "id": "39e9e259-5fc8-430b-83dd-ada30177c819",
    "name": "octoprobe-rec1-security-group-a",
    "project_id": "6aefc8437e6d4488b4657c9e211751a6",
    "tenant_id": "6aefc8437e6d4488b4657c9e211751a6",
    "description": "[octoprobe-run=rec1]",
    "security_group_rules": [
     {
      "id": "17cf2eb9-ca47-47b9-85f0-9a36c6a7a8c3",
      "project_id": "6aefc8437e6d4488b4657c9e211751a6",
      "tenant_id": "6aefc8437e6d4488b4657c9e211751a6",
      "security_group_id": "39e9e259-5fc8-430b-83dd-ada30177c819",
      "direction": "egress",
      "ethertype": "IPv4",
      "protocol": null,
      "port_range_min": null,
      "port_range_max": null,
      "remote_ip_prefix": null,
      "remote_group_id": null,
      "remote_address_group_id": null,
      "normalized_cidr": null,
      "description": "",
      "tags": [],
      "created_at": "2026-11-24T10:59:19Z",
      "updated_at": "2026-11-24T10:59:19Z",
      "revision_number": 0
     },
     {
      "id": "8745887e-16cb-47a6-b97f-8934ec5e9463",
      "project_id": "6aefc8437e6d4488b4657c9e211751a6",
      "tenant_id": "6aefc8437e6d4488b4657c9e211751a6",
      "security_group_id": "39e9e259-5fc8-430b-83dd-ada30177c819",
      "direction": "egress",
      "ethertype": "IPv6",
      "protocol": null,
      "port_range_min": null,
      "port_range_max": null,
      "remote_ip_prefix": null,
      "remote_group_id": null,
      "remote_address_group_id": null,
      "normalized_cidr": null,
      "description": "",
      "tags": [],
      "created_at": "2026-11-24T10:59:19Z",
      "updated_at": "2026-11-24T10:59:19Z",
      "revision_number": 0
     },
     {
      "id": "0906bf11-b059-4afb-a0ba-eae8206c2f48",
      "project_id": "6aefc8437e6d4488b4657c9e211751a6",
      "tenant_id": "6aefc8437e6d4488b4657c9e211751a6",
      "security_group_id": "39e9e259-5fc8-430b-83dd-ada30177c819",
      "direction": "ingress",
      "ethertype": "IPv6",
      "protocol": "tcp",
      "port_range_min": 22,
      "port_range_max": 22,
      "remote_ip_prefix": "2001:db8::/64",
      "remote_group_id": null,
      "remote_address_group_id": null,
      "normalized_cidr": "2001:db8::/64",
      "description": "",
      "tags": [],
      "created_at": "2026-11-24T10:59:19Z",
      "updated_at": "2026-11-24T10:59:19Z",
      "revision_number": 0
     }
    ],
    "stateful": true,
    "shared": false,
    "tags": [],
    "created_at": "2026-11-24T10:59:19Z",
    "updated_at": "2026-11-24T10:59:19Z",
    "revision_number": 1
   }
  ]
 },
 "extensions": {
  "extensions": [
   {
    "alias": "binding",
    "name": "Port Binding",
    "description": "binding:host_id, binding:vif_type (admin), binding:vnic_type normal",
    "updated": "2026-11-24T00:00:00Z",
    "links": []
   },
   {
    "alias": "external-net",
    "name": "Neutron external network",
    "description": "router:external networks (flat, in the machine's namespace)",
    "updated": "2026-11-24T00:00:00Z",
    "links": []
   },
   {
    "alias": "ext-gw-mode",
    "name": "Neutron L3 Configurable external gateway mode",
    "description": "enable_snat of a router's gateway",
    "updated": "2026-11-24T00:00:00Z",
    "links": []
   }
  ]
 },
 "extension": {
  "extension": {
   "alias": "router",
   "name": "Neutron L3 Router",
   "description": "routers, router interfaces and floating IPs",
   "updated": "2026-11-24T00:00:00Z",
   "links": []
  }
 },
 "resources": {
  "resources": [
   {
    "name": "network",
    "collection": "networks",
    "links": [
     {
      "rel": "self",
      "href": "http://198.18.82.1/network/v2.0/networks"
     }
    ]
   },
   {
    "name": "subnet",
    "collection": "subnets",
    "links": [
     {
      "rel": "self",
      "href": "http://198.18.82.1/network/v2.0/subnets"
     }
    ]
   },
   {
    "name": "port",
    "collection": "ports",
    "links": [
     {
      "rel": "self",
      "href": "http://198.18.82.1/network/v2.0/ports"
     }
    ]
   }
  ]
 },
 "versions": {
  "versions": [
   {
    "id": "v2.0",
    "status": "CURRENT",
    "links": [
     {
      "rel": "self",
      "href": "http://198.18.82.1/network/v2.0/"
     }
    ]
   }
  ]
 },
 "error_404": {
  "NeutronError": {
   "type": "NetworkNotFound",
   "message": "Network 420d32ff-e2c1-4818-ad7c-9e2d31240e2b could not be found.",
   "detail": ""
  }
 },
 "error_400": {
  "NeutronError": {
   "type": "HTTPBadRequest",
   "message": "Invalid input for cidr: '10.300.0.0/24' is not a valid IP subnet",
   "detail": ""
  }
 },
 "error_409": {
  "NeutronError": {
   "type": "NetworkInUse",
   "message": "network 253b4ff3-377e-4b8a-a119-cc111cbc04e7 has 2 port(s) in use: b7e839d0-406e-4e97-a6ce-84a796da492b (compute), b219053b-fe1d-4ab1-a0ce-3d1845581980 (network:router_interface)",
   "detail": ""
  }
 },
 "ports_bulk": {
  "ports": [
   {
    "id": "32c25bce-0428-4f10-a03e-28be4961660f",
    "name": "octoprobe-rec1-port-b",
    "project_id": "6aefc8437e6d4488b4657c9e211751a6",
    "tenant_id": "6aefc8437e6d4488b4657c9e211751a6",
    "network_id": "253b4ff3-377e-4b8a-a119-cc111cbc04e7",
    "mac_address": "fa:16:3e:fb:2b:19",
    "admin_state_up": true,
    "status": "DOWN",
    "device_id": "",
    "device_owner": "",
    "fixed_ips": [
     {
      "subnet_id": "c9673432-91b3-416a-a48e-c1db51466ed5",
      "ip_address": "10.100.200.4"
     },
     {
      "subnet_id": "9caae570-8177-493a-b8b0-60256d2ecefa",
      "ip_address": "fd00:6f63:7072:42:f816:3eff:fefb:2b19"
     }
    ],
    "security_groups": [
     "e3cc1cc9-c79c-4f6b-88bb-94fa73883dae"
    ],
    "port_security_enabled": true,
    "allowed_address_pairs": [],
    "extra_dhcp_opts": [],
    "binding:vnic_type": "normal",
    "description": "",
    "tags": [],
    "created_at": "2026-11-24T10:59:19Z",
    "updated_at": "2026-11-24T10:59:19Z",
    "revision_number": 0
   }
  ]
 },
 "neutron_network_ml2": {
  "network": {
   "id": "6d2c1e43-0bf2-4ae9-9f0c-2a4e7b1d5c10",
   "name": "octoprobe-rec1-network-b",
   "tenant_id": "0fc9b6c0a8464d75a6aad47d20de6076",
   "project_id": "0fc9b6c0a8464d75a6aad47d20de6076",
   "admin_state_up": true,
   "mtu": 1442,
   "status": "ACTIVE",
   "subnets": [],
   "shared": false,
   "availability_zone_hints": [],
   "availability_zones": [],
   "ipv4_address_scope": null,
   "ipv6_address_scope": null,
   "router:external": false,
   "description": "[octoprobe-run=rec1]",
   "qos_policy_id": null,
   "port_security_enabled": true,
   "dns_domain": "",
   "l2_adjacency": true,
   "tags": [],
   "created_at": "2026-11-24T10:59:01Z",
   "updated_at": "2026-11-24T10:59:01Z",
   "revision_number": 1,
   "provider:network_type": "geneve",
   "provider:physical_network": null,
   "provider:segmentation_id": 4711,
   "is_default": false
  }
 },
 "neutron_port_ml2": {
  "port": {
   "id": "a0f5d9b1-6f0e-4c38-9d27-51c3b7e0a8f2",
   "name": "",
   "network_id": "6d2c1e43-0bf2-4ae9-9f0c-2a4e7b1d5c10",
   "tenant_id": "0fc9b6c0a8464d75a6aad47d20de6076",
   "mac_address": "fa:16:3e:12:34:56",
   "admin_state_up": true,
   "status": "DOWN",
   "device_id": "",
   "device_owner": "",
   "fixed_ips": [
    {
     "subnet_id": "3b2d6a9e-1c44-4f0b-8e57-2d9a0c6f7b13",
     "ip_address": "10.100.200.7"
    }
   ],
   "project_id": "0fc9b6c0a8464d75a6aad47d20de6076",
   "port_security_enabled": true,
   "security_groups": [
    "e3cc1cc9-c79c-4f6b-88bb-94fa73883dae"
   ],
   "binding:vnic_type": "normal",
   "dns_name": "",
   "dns_assignment": [
    {
     "ip_address": "10.100.200.7",
     "hostname": "host-10-100-200-7",
     "fqdn": "host-10-100-200-7.openstacklocal."
    }
   ],
   "dns_domain": "",
   "qos_policy_id": null,
   "qos_network_policy_id": null,
   "propagate_uplink_status": false,
   "ip_allocation": "immediate",
   "resource_request": null,
   "mac_learning_enabled": false,
   "allowed_address_pairs": [],
   "extra_dhcp_opts": [],
   "description": "",
   "tags": [],
   "created_at": "2026-11-24T10:59:02Z",
   "updated_at": "2026-11-24T10:59:02Z",
   "revision_number": 1
  }
 },
 "neutron_subnetpool_strings": {
  "subnetpool": {
   "id": "f49a1319-423a-4ee6-ba54-1d95a4f6cc68",
   "name": "octoprobe-rec1-subnetpool-b",
   "prefixes": [
    "10.100.64.0/24"
   ],
   "default_prefixlen": "28",
   "min_prefixlen": "8",
   "max_prefixlen": "32",
   "ip_version": 4,
   "shared": false,
   "is_default": false,
   "address_scope_id": null,
   "default_quota": null,
   "description": "",
   "tags": [],
   "project_id": "0fc9b6c0a8464d75a6aad47d20de6076",
   "tenant_id": "0fc9b6c0a8464d75a6aad47d20de6076",
   "created_at": "2026-11-24T10:59:03Z",
   "updated_at": "2026-11-24T10:59:03Z",
   "revision_number": 0
  }
 }
}
''')

# recorded response -> schema
CASES = {
    "network_created": "network/network",
    "network": "network/network",
    "neutron_network_ml2": "network/network",
    "networks": "network/networks",
    "subnet_created": "network/subnet",
    "subnet_ipv6": "network/subnet",
    "subnets": "network/subnets",
    "port_created": "network/port",
    "neutron_port_ml2": "network/port",
    "ports": "network/ports",
    "ports_bulk": "network/ports-bulk",
    "router_created": "network/router",
    "router_gateway": "network/router",
    "routers": "network/routers",
    "router_interface": "network/router-interface",
    "floatingip_created": "network/floatingip",
    "floatingips": "network/floatingips",
    "security_group_created": "network/security-group",
    "security_groups": "network/security-groups",
    "security_group_rule_created": "network/security-group-rule",
    "security_group_rules": "network/security-group-rules",
    "subnetpool_created": "network/subnetpool",
    "neutron_subnetpool_strings": "network/subnetpool",
    "subnetpools": "network/subnetpools",
    "extensions": "network/extensions",
    "extension": "network/extension",
    "resources": "network/resources",
    "versions": "network/versions",
    "error_404": "network/error",
    "error_400": "network/error",
    "error_409": "network/error",
}


recorded = recorded_from(RECORDED)
paths = problem_paths


@pytest.mark.parametrize("mode", ["strict", "lenient"])
@pytest.mark.parametrize("sample", sorted(CASES))
def test_recorded_responses_match(mode, sample):
    Schemas(mode).validate(CASES[sample], recorded(sample))


@pytest.mark.parametrize("mode", ["strict", "lenient"])
def test_every_network_schema_is_exercised(mode):
    schemas = Schemas(mode)
    names = {n for n in schemas.names() if n.startswith("network/")}
    for name in names:
        schemas.validator(name)
    assert names == set(CASES.values()), sorted(names ^ set(CASES.values()))


def test_strict_refuses_unknown_fields_lenient_allows_them():
    for sample, schema, key in (("network", "network/network", "network"), ("port_created", "network/port", "port"),
                                ("router_created", "network/router", "router")):
        body = recorded(sample)
        body[key]["x_vendor_zone"] = "blue"
        assert paths(Schemas("strict"), schema, body) == [f"$.{key}.x_vendor_zone"]
        Schemas("lenient").validate(schema, body)
    rules = recorded("security_groups")
    rules["security_groups"][0]["security_group_rules"][0]["x_vendor"] = 1
    assert paths(Schemas("strict"), "network/security-groups", rules) == [
        "$.security_groups[0].security_group_rules[0].x_vendor"]
    Schemas("lenient").validate("network/security-groups", rules)


@pytest.mark.parametrize("mode", ["strict", "lenient"])
def test_missing_and_wrong_fields_fail_in_both_modes(mode):
    schemas = Schemas(mode)
    body = recorded("networks")
    network = body["networks"][0]
    del network["status"]
    network["shared"] = "false"
    network["subnets"] = ["not-a-uuid"]
    assert paths(schemas, "network/networks", body) == [
        "$.networks[0]", "$.networks[0].shared", "$.networks[0].subnets[0]"]
    subnet = recorded("subnet_created")
    subnet["subnet"]["ip_version"] = 5
    subnet["subnet"]["cidr"] = "10.0.0.0"
    del subnet["subnet"]["allocation_pools"]
    assert paths(schemas, "network/subnet", subnet) == ["$.subnet", "$.subnet.cidr", "$.subnet.ip_version"]
    port = recorded("port_created")
    port["port"]["mac_address"] = "fa:16:3e"
    port["port"]["fixed_ips"][0] = {"ip_address": port["port"]["fixed_ips"][0]["ip_address"]}
    assert paths(schemas, "network/port", port) == ["$.port.fixed_ips[0]", "$.port.mac_address"]


@pytest.mark.parametrize("mode", ["strict", "lenient"])
def test_router_gateway_and_floating_ip_shapes(mode):
    schemas = Schemas(mode)
    router = recorded("router_gateway")
    assert router["router"]["external_gateway_info"]["network_id"], "the recording has a gateway"
    del router["router"]["external_gateway_info"]["network_id"]
    assert paths(schemas, "network/router", router) == ["$.router.external_gateway_info"]
    router = recorded("router_created")
    del router["router"]["external_gateway_info"]  # null is the value for "no gateway", absent is wrong
    assert paths(schemas, "network/router", router) == ["$.router"]
    fip = recorded("floatingip_created")
    fip["floatingip"]["status"] = "UP"
    fip["floatingip"]["floating_ip_address"] = None
    assert paths(schemas, "network/floatingip", fip) == ["$.floatingip.floating_ip_address", "$.floatingip.status"]
    interface = recorded("router_interface")
    del interface["port_id"]
    assert paths(schemas, "network/router-interface", interface) == ["$"]


@pytest.mark.parametrize("mode", ["strict", "lenient"])
def test_security_group_rule_values(mode):
    schemas = Schemas(mode)
    rule = recorded("security_group_rule_created")
    rule["security_group_rule"]["direction"] = "inbound"
    rule["security_group_rule"]["ethertype"] = "ipv6"
    rule["security_group_rule"]["port_range_min"] = 70000
    del rule["security_group_rule"]["remote_group_id"]
    assert paths(schemas, "network/security-group-rule", rule) == [
        "$.security_group_rule", "$.security_group_rule.direction", "$.security_group_rule.ethertype",
        "$.security_group_rule.port_range_min"]


@pytest.mark.parametrize("mode", ["strict", "lenient"])
def test_subnetpool_prefix_lengths(mode):
    """Integers, or (older Neutron) digit strings; nothing else."""
    schemas = Schemas(mode)
    pool = recorded("subnetpool_created")
    pool["subnetpool"]["default_prefixlen"] = "twenty-eight"
    pool["subnetpool"]["max_prefixlen"] = 129
    pool["subnetpool"]["prefixes"] = []
    assert paths(schemas, "network/subnetpool", pool) == [
        "$.subnetpool.default_prefixlen", "$.subnetpool.max_prefixlen", "$.subnetpool.prefixes"]


@pytest.mark.parametrize("mode", ["strict", "lenient"])
@pytest.mark.parametrize(
    "body",
    [
        {"NeutronError": {"type": "NetworkNotFound", "message": "x"}},
        {"NeutronError": {"type": "NetworkNotFound", "message": "", "detail": ""}},
        {"NeutronError": {"message": "x", "detail": ""}},
        {"NeutronError": "Network x could not be found."},
        {"itemNotFound": {"code": 404, "message": "x"}},
        {"error": {"code": 404, "title": "Not Found", "message": "x"}},
        {"NeutronError": {"type": "NetworkNotFound", "message": "x", "detail": ""}, "extra": 1},
        {},
    ],
    ids=["no-detail", "empty-message", "no-type", "string", "nova-fault", "keystone-error", "extra-key", "empty"],
)
def test_error_schema_refuses_non_neutron_errors(mode, body):
    with pytest.raises(ResponseSchemaError):
        Schemas(mode).validate("network/error", body)


@pytest.mark.parametrize("mode", ["strict", "lenient"])
def test_version_documents(mode):
    schemas = Schemas(mode)
    versions = recorded("versions")
    versions["versions"][0]["id"] = "2.0"
    versions["versions"][0]["status"] = "current"
    assert paths(schemas, "network/versions", versions) == ["$.versions[0].id", "$.versions[0].status"]
    resources = recorded("resources")
    del resources["resources"][0]["collection"]
    assert paths(schemas, "network/resources", resources) == ["$.resources[0]"]
    extensions = recorded("extensions")
    del extensions["extensions"][0]["alias"]
    assert paths(schemas, "network/extensions", extensions) == ["$.extensions[0]"]
