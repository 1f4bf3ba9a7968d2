"""networks-subnet-pools-CRUD: subnet pools (create, list, show, update,
delete), subnets allocated from a pool by prefix length, shared pools
(admin); and what Neutron refuses: unknown pools (404), invalid prefixes
(400), a prefix length outside the pool's bounds (400), a pool in use (409)."""

from __future__ import annotations

import ipaddress
import uuid

import pytest

from .neutron import check_error

POOLS = "networks-subnet-pools-CRUD"


def _pool_prefix(neutron, length=24):
    return neutron.free_cidr(4, prefixlen=length)


@pytest.mark.capability(POOLS, "62595970-ab1c-4b7f-8fcc-fddfe55e9811")
def test_create_list_show_update_delete_subnetpools(neutron, resources):
    """A pool: created (201, its prefixes and lengths as given), listed, shown,
    renamed (200), deleted (204, then 404)."""
    prefix = _pool_prefix(neutron)
    pool = neutron.create(resources, "subnetpool", prefixes=[prefix], min_prefixlen=26, default_prefixlen=28,
                          max_prefixlen=30)
    assert pool["prefixes"] == [prefix] and pool["ip_version"] == 4 and pool["shared"] is False, pool
    assert [int(pool[k]) for k in ("min_prefixlen", "default_prefixlen", "max_prefixlen")] == [26, 28, 30], pool
    assert pool["id"] in {p["id"] for p in neutron.list("subnetpool", name=pool["name"])}
    assert neutron.show("subnetpool", pool["id"])["prefixes"] == [prefix]
    name = neutron.run.name("subnetpool")
    assert neutron.update("subnetpool", pool["id"], name=name)["name"] == name
    assert neutron.show("subnetpool", pool["id"])["name"] == name
    neutron.delete("subnetpool", pool["id"])


@pytest.mark.capability(POOLS, "28d0d409-cf45-4ad8-b03e-968c1b2746be")
def test_subnet_from_pool(neutron, resources):
    """Subnets asking a pool for a prefix length (or its default) get
    non-overlapping CIDRs of that length inside the pool, with the pool's id."""
    prefix = _pool_prefix(neutron)
    pool = neutron.create(resources, "subnetpool", prefixes=[prefix], default_prefixlen=28)
    net = neutron.create(resources, "network")
    first = neutron.create(resources, "subnet", network_id=net["id"], ip_version=4, subnetpool_id=pool["id"],
                           prefixlen=27)
    second = neutron.create(resources, "subnet", network_id=net["id"], ip_version=4, subnetpool_id=pool["id"])
    cidrs = [ipaddress.ip_network(s["cidr"]) for s in (first, second)]
    assert [c.prefixlen for c in cidrs] == [27, 28], f"asked /27 and the default /28, got {cidrs}"
    assert all(c.subnet_of(ipaddress.ip_network(prefix)) for c in cidrs), f"{cidrs} not inside {prefix}"
    assert not cidrs[0].overlaps(cidrs[1]), f"two subnets of a pool overlap: {cidrs}"
    assert first["subnetpool_id"] == second["subnetpool_id"] == pool["id"]


@pytest.mark.capability(POOLS, "e9668c98-9a4b-4846-94c4-892373fbb303")
def test_pool_prefixes_can_grow(neutron, resources):
    """PUT prefixes with one more prefix: the pool has both."""
    first, second = _pool_prefix(neutron), None
    second = neutron.free_cidr(4, prefixlen=24, avoid=[first])
    pool = neutron.create(resources, "subnetpool", prefixes=[first], default_prefixlen=28)
    updated = neutron.update("subnetpool", pool["id"], prefixes=[first, second])
    got = sorted(map(ipaddress.ip_network, updated["prefixes"]))
    want = sorted(ipaddress.collapse_addresses(map(ipaddress.ip_network, [first, second])))
    assert got == want, f"after adding {second}: {updated['prefixes']}"


@pytest.mark.needs_admin
@pytest.mark.capability(POOLS, "3dd3ccc7-9dd3-4b11-b1ee-7318b15079b7")
def test_shared_pool_is_visible_to_users(neutron, admin_neutron, resources, schemas):
    """An admin's shared pool is listed and shown to a user, who may
    allocate from it; a user may not create a shared pool (403)."""
    pool = admin_neutron.create(resources, "subnetpool", prefixes=[_pool_prefix(neutron)], default_prefixlen=28,
                                shared=True)
    assert pool["shared"] is True, pool
    assert neutron.show("subnetpool", pool["id"])["shared"] is True
    assert pool["id"] in {p["id"] for p in neutron.list("subnetpool", shared=True)}
    net = neutron.create(resources, "network")
    sub = neutron.create(resources, "subnet", network_id=net["id"], ip_version=4, subnetpool_id=pool["id"])
    assert sub["subnetpool_id"] == pool["id"]
    resp = neutron.post(resources, "subnetpool", {"prefixes": [_pool_prefix(neutron)], "default_prefixlen": 28,
                                                  "shared": True})
    check_error(schemas, resp, 403)


@pytest.mark.needs_alt
@pytest.mark.capability(POOLS, "afa21872-2155-4e96-8b49-2ee925808d45")
def test_another_tenants_pool_is_hidden(neutron, alt_neutron, resources, schemas):
    """A user's (not shared) pool is 404 to another project and not listed there."""
    pool = neutron.create(resources, "subnetpool", prefixes=[_pool_prefix(neutron)], default_prefixlen=28)
    check_error(schemas, alt_neutron.request("GET", f"/subnetpools/{pool['id']}"), 404)
    assert pool["id"] not in {p["id"] for p in alt_neutron.list("subnetpool")}


# ---- negative


@pytest.mark.parametrize("method, body", [
    pytest.param("GET", None, id="show", marks=pytest.mark.capability(POOLS, "0da4baad-bf1f-485c-b8b5-aadede274e2e")),
    pytest.param("PUT", {"subnetpool": {"name": "x"}}, id="update",
                 marks=pytest.mark.capability(POOLS, "c432f7c8-6947-478b-8e17-1d1f9e8743a5")),
    pytest.param("DELETE", None, id="delete",
                 marks=pytest.mark.capability(POOLS, "e5c73de4-fd57-4e60-9ad3-388d877cf3c5")),
])
def test_unknown_subnetpool_is_404(neutron, schemas, method, body):
    check_error(schemas, neutron.request(method, f"/subnetpools/{uuid.uuid4()}", json=body), 404,
                types={"SubnetPoolNotFound"})


@pytest.mark.capability(POOLS, "72566ab2-1e9f-4db1-b63d-f174832d8cc8")
def test_invalid_pool_prefix_is_400(neutron, resources, schemas):
    """A pool with an invalid prefix: 400, nothing created."""
    name = neutron.run.name("subnetpool")
    check_error(schemas, neutron.post(resources, "subnetpool", {"name": name, "prefixes": ["10.300.0.0/16"],
                                                                "default_prefixlen": 24}), 400)
    assert neutron.list("subnetpool", name=name) == []


@pytest.mark.capability(POOLS, "46ae36b0-f0ab-494c-a5b9-35d2701cbe58")
def test_prefixlen_outside_the_pool_bounds_is_400(neutron, resources, schemas):
    """A subnet asking a pool for a longer prefix than its max_prefixlen: 400."""
    pool = neutron.create(resources, "subnetpool", prefixes=[_pool_prefix(neutron)], default_prefixlen=28,
                          max_prefixlen=28)
    net = neutron.create(resources, "network")
    resp = neutron.post(resources, "subnet", {"network_id": net["id"], "ip_version": 4, "subnetpool_id": pool["id"],
                                              "prefixlen": 30})
    check_error(schemas, resp, 400)


@pytest.mark.capability(POOLS, "bc175376-d35a-4e19-bac8-9703547cb58c")
def test_delete_pool_in_use_is_409(neutron, resources, schemas):
    """A pool with a subnet allocated from it: deleting it is 409 SubnetPoolInUse."""
    pool = neutron.create(resources, "subnetpool", prefixes=[_pool_prefix(neutron)], default_prefixlen=28)
    net = neutron.create(resources, "network")
    neutron.create(resources, "subnet", network_id=net["id"], ip_version=4, subnetpool_id=pool["id"])
    check_error(schemas, neutron.request("DELETE", f"/subnetpools/{pool['id']}"), 409, types={"SubnetPoolInUse"})
