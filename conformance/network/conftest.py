"""Fixtures of the network tests: a :class:`~.neutron.Neutron` per cloud
role, and the network, subnets and security group that tests only read
share (created once per module, run-tagged, deleted when the module ends).

Module- and session-scoped fixtures keep their own
:class:`~octoprobe.resources.ResourceRegistry`: what they create is deleted
when they end, and a failed deletion is an error of the test that ends them.
"""

from __future__ import annotations

from typing import Any

import pytest

from octoprobe.resources import ResourceRegistry

from .neutron import Neutron


@pytest.fixture(scope="session")
def neutron(conn: Any, schemas: Any, run: Any) -> Neutron:
    """Network operations as the user of the cloud under test."""
    return Neutron(conn, schemas, run)


@pytest.fixture(scope="session")
def alt_neutron(alt_conn: Any, schemas: Any, run: Any) -> Neutron:
    """As the second tenant's user (skips without --alt-cloud)."""
    return Neutron(alt_conn, schemas, run)


@pytest.fixture(scope="session")
def admin_neutron(admin_conn: Any, schemas: Any, run: Any) -> Neutron:
    """As the admin cloud's user (skips without --admin-cloud)."""
    return Neutron(admin_conn, schemas, run)


@pytest.fixture(scope="module")
def network(neutron: Neutron, module_resources: ResourceRegistry) -> dict[str, Any]:
    """A run-tagged network of the module (tests must not change it)."""
    return neutron.create(module_resources, "network")


@pytest.fixture(scope="module")
def subnet(neutron: Neutron, network: dict, module_resources: ResourceRegistry) -> dict[str, Any]:
    """An IPv4 subnet (a free /28) of the module's network."""
    return neutron.create(module_resources, "subnet", network_id=network["id"], ip_version=4,
                          cidr=neutron.free_cidr(4))


@pytest.fixture(scope="module")
def external_network(neutron: Neutron) -> dict[str, Any]:
    """An external network the user sees (router gateways, floating IPs); skips without one."""
    external = neutron.external_networks()
    if not external:
        pytest.skip("the user sees no external network (router:external=true) for router gateways and "
                    "floating IPs; one needs an admin to create it")
    return external[0]
