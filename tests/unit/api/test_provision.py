"""The default networking `cloud up` provisions, against a recording fake
of the network library (the real one is exercised by the integration tests)."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

from octoprobe.reference_impl.api.provision import provision_networking
from octoprobe.reference_impl.topology import default_topology_path, load_topology


@dataclass
class Obj:
    id: str
    name: str
    project_id: str = ""
    external: bool = False


@dataclass
class FakePlane:
    networks: list = field(default_factory=list)
    groups: list = field(default_factory=list)
    calls: list = field(default_factory=list)
    ids: itertools.count = field(default_factory=itertools.count)

    def _new(self, name, **kw):
        return Obj(f"id{next(self.ids)}", name, **kw)

    def list_networks(self):
        return list(self.networks)

    def list_security_groups(self):
        return list(self.groups)

    def create_network(self, name, *, project_id="", external=False, shared=False):
        net = self._new(name, project_id=project_id, external=external)
        self.networks.append(net)
        self.calls.append(("network", name, project_id, external, shared))
        return net

    def create_subnet(self, network_id, cidr, **kw):
        self.calls.append(("subnet", network_id, cidr, kw.get("ipv6_address_mode")))
        return self._new(cidr)

    def create_security_group(self, name, *, project_id, description=""):
        group = self._new(name, project_id=project_id)
        self.groups.append(group)
        self.calls.append(("group", name, project_id))
        return group

    def create_security_group_rule(self, group_id, direction, **kw):
        self.calls.append(("rule", group_id, direction, kw["ethertype"], kw.get("remote_group_id")))

    def create_router(self, name, *, project_id, external_network_id):
        self.calls.append(("router", name, project_id, external_network_id))
        return self._new(name)

    def add_router_interface(self, router_id, *, subnet_id):
        self.calls.append(("interface", router_id, subnet_id))


def test_external_network_and_one_private_network_per_project():
    topology = load_topology(default_topology_path())
    plane = FakePlane()
    result = provision_networking(plane, topology, ["p1", "p2"])
    assert set(result) == {"p1", "p2"} and len(set(result.values())) == 2
    externals = [c for c in plane.calls if c[0] == "network" and c[3]]
    assert len(externals) == 1 and externals[0][4] is True  # shared
    subnets = [c[2] for c in plane.calls if c[0] == "subnet"]
    assert str(topology.external.ipv4) in subnets and str(topology.external.ipv6) in subnets
    assert subnets.count("10.0.0.0/24") == 2
    v6 = [c for c in plane.calls if c[0] == "subnet" and c[3] == "slaac"]
    assert len({c[2] for c in v6}) == 2  # a distinct routed /64 per project
    rules = [c for c in plane.calls if c[0] == "rule"]
    assert {(r[2], r[3]) for r in rules} == {("ingress", "IPv4"), ("ingress", "IPv6")}
    assert all(r[4] == r[1] for r in rules)  # ingress from members of the same group
    assert len([c for c in plane.calls if c[0] == "interface"]) == 4


def test_provisioning_twice_creates_nothing_new():
    topology = load_topology(default_topology_path())
    plane = FakePlane()
    first = provision_networking(plane, topology, ["p1"])
    count = len(plane.calls)
    assert provision_networking(plane, topology, ["p1"]) == first
    assert len(plane.calls) == count
