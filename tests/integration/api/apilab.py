"""The small topology the API tests and ``bench/api_latency.py`` bring up:
3 racks with a storage host each (pool size 3), compute hosts in two of them."""

from __future__ import annotations

PREFIX = "octa"  # the API tests' cloud (bench/api_latency.py uses its own)


def small_topology(underlay_v4: str, underlay_v6: str) -> dict:
    storage = {"roles": ["storage"], "osds": {"count": 1, "size": "4GiB"}}
    return {
        "underlay": {"ipv4": underlay_v4, "ipv6": underlay_v6},
        "ceph": {"pool_size": 3, "pool_min_size": 2, "pg_num": 16},
        "racks": [
            {"name": "r1", "hosts": [{"name": "r1-s1", **storage}, {"name": "r1-c1", "roles": ["compute"]}]},
            {"name": "r2", "hosts": [{"name": "r2-s1", **storage}, {"name": "r2-c1", "roles": ["compute"]}]},
            {"name": "r3", "hosts": [{"name": "r3-s1", **storage}]},
        ],
    }


def server_addresses(server: dict) -> list[str]:
    """Every address of a server as `openstack server show -f json` prints it
    (a dict of network → addresses, or older CLIs' ``net=a, b; net2=c``)."""
    value = server["addresses"]
    if isinstance(value, dict):
        return [a if isinstance(a, str) else a["addr"] for addrs in value.values() for a in addrs]
    return [a.strip() for part in value.split(";") for a in part.split("=", 1)[1].split(",")]
