"""Quota enforcement: how many of a resource a project has, and the 409
OverQuota a create beyond its limit gets."""

from __future__ import annotations

from typing import Any

from . import errors as E
from .network_store import NeutronStore

RESOURCES = ("network", "subnet", "port", "router", "floatingip", "security_group", "security_group_rule",
             "subnetpool")


def usage(state: Any, neutron: NeutronStore, project_id: str) -> dict[str, int]:
    """Resources of the project, counted from the library's state (and the
    API's subnet pools)."""
    def count(items) -> int:
        return sum(1 for i in items if i.project_id == project_id)
    return {
        "network": count(state.networks.values()),
        "subnet": count(state.subnets.values()),
        "port": count(state.ports.values()),
        "router": count(state.routers.values()),
        "floatingip": count(state.floating_ips.values()),
        "security_group": count(state.security_groups.values()),
        "security_group_rule": count(state.security_group_rules.values()),
        "subnetpool": sum(1 for p in neutron.subnetpools() if p["project_id"] == project_id),
    }


def check(state: Any, neutron: NeutronStore, project_id: str, resource: str, adding: int = 1) -> None:
    limit = neutron.quotas(project_id).get(resource, -1)
    if limit < 0:
        return
    used = usage(state, neutron, project_id)[resource]
    if used + adding > limit:
        raise E.Conflict(f"Quota exceeded for resources: ['{resource}'].", kind="OverQuota")
