"""octoprobe.resources: run tags, per-test finalizers, and the sweeper, which
deletes exactly what carries our tag (a fake cloud stands in for openstacksdk)."""

from __future__ import annotations

import re
from types import SimpleNamespace

import pytest

from octoprobe.resources import (
    KINDS,
    CleanupError,
    ResourceRegistry,
    RunTag,
    Sweeper,
    check_run_id,
    new_run_id,
    run_id_of,
)
from octoprobe.waiters import Waiter

RUN = "runa1"
OTHER = "runb2"

# ---------------------------------------------------------------- run tags


def test_new_run_ids_are_valid_sortable_and_distinct():
    first = new_run_id(now=1_760_000_000)
    assert re.fullmatch(r"20251009t\d{6}[0-9a-f]{4}", first)
    assert check_run_id(first) == first
    assert len({new_run_id() for _ in range(20)}) > 1


@pytest.mark.parametrize("bad", ["", "abc", "Has-Caps", "with-dash", "x" * 33, None, "r un1"])
def test_bad_run_ids(bad):
    with pytest.raises(ValueError, match="4 to 32 lowercase letters and digits"):
        check_run_id(bad)


def test_run_tag_forms():
    tag = RunTag(RUN)
    assert tag.prefix == "octoprobe-runa1-"
    assert tag.tag == "octoprobe-run=runa1" and tag.tags == ["octoprobe-run=runa1"]
    assert tag.metadata == {"octoprobe-run": "runa1"}
    assert tag.name("vm", suffix="1") == "octoprobe-runa1-vm-1"
    assert re.fullmatch(r"octoprobe-runa1-vol-[0-9a-f]{6}", tag.name("vol"))
    assert tag.description("net for isolation") == "net for isolation [octoprobe-run=runa1]"
    assert str(tag) == RUN
    with pytest.raises(ValueError):
        tag.name("Bad Kind")
    with pytest.raises(ValueError):
        RunTag("no")


@pytest.mark.parametrize(
    "kind, resource, expected",
    [
        ("server", {"name": "x", "metadata": {"octoprobe-run": RUN}}, RUN),
        ("volume", {"metadata": {"octoprobe-run": "NOT VALID"}}, None),
        ("image", {"tags": ["prod", f"octoprobe-run={RUN}"]}, RUN),
        ("image", {"properties": {"octoprobe-run": RUN}}, RUN),
        ("network", {"description": f"isolation net [octoprobe-run={RUN}]"}, RUN),
        ("network", {"description": f"copied from xoctoprobe-run={RUN}"}, None),
        ("network", {"tags": [f"octoprobe-run={RUN}-x"]}, None),
        ("server", {"name": f"octoprobe-{RUN}-vm-1", "metadata": {}}, None),  # a name alone is not our tag
        ("keypair", {"name": f"octoprobe-{RUN}-kp-1"}, RUN),
        ("keypair", {"name": "octoprobe-keys"}, None),
        ("port", {}, None),
    ],
)
def test_run_id_of(kind, resource, expected):
    assert run_id_of(kind, resource) == expected
    assert run_id_of(kind, SimpleNamespace(**resource)) == expected


# ---------------------------------------------------------------- the registry


def test_registry_runs_finalizers_lifo_and_collects_failures():
    registry = ResourceRegistry(RunTag(RUN))
    order = []
    registry.add("network n1", lambda: order.append("n1"))

    def broken():
        order.append("boom")
        raise RuntimeError("409 Conflict: network in use")

    registry.add("port p1", broken)
    server = registry.track(SimpleNamespace(name="vm1"), lambda s: order.append(s.name))
    assert server.name == "vm1"
    assert registry.pending == ["network n1", "port p1", "simplenamespace vm1"]
    failures = registry.cleanup()
    assert order == ["vm1", "boom", "n1"]
    assert [str(f) for f in failures] == ["port p1: RuntimeError: 409 Conflict: network in use"]
    assert len(registry) == 0 and registry.cleanup() == []
    message = str(CleanupError(failures))
    assert "cleanup failed for 1 resource(s)" in message and "port p1" in message


def test_registry_refuses_non_callables():
    with pytest.raises(TypeError):
        ResourceRegistry(RunTag(RUN)).add("x", None)


def test_finalizers_added_during_cleanup_run_too():
    registry = ResourceRegistry(RunTag(RUN))
    seen = []
    registry.add("outer", lambda: registry.add("inner", lambda: seen.append("inner")))
    assert registry.cleanup() == [] and seen == ["inner"]


# ---------------------------------------------------------------- a fake cloud


class Conflict(Exception):
    pass


def res(**fields):
    fields.setdefault("name", None)
    return SimpleNamespace(**fields)


class FakeCloud:
    """Resources by kind, with Neutron/Cinder/Nova-like dependency rules: deleting
    in the wrong order raises Conflict. Servers, snapshots and volumes vanish
    only some list calls after their deletion (asynchronous)."""

    ASYNC_LISTS = 2

    def __init__(self):
        self.store = {k.name: {} for k in KINDS}
        self.log = []
        self.dying = {}  # id -> list calls left before it vanishes
        self.stuck = set()  # ids that never finish deleting
        self.broken_lists = set()
        self.compute = FakeProxy(self, "compute")
        self.network = FakeProxy(self, "network")
        self.block_storage = FakeProxy(self, "block_storage")
        self.image = FakeProxy(self, "image")

    def add(self, kind, **fields):
        obj = res(**fields)
        key = obj.id if kind != "keypair" else obj.name
        self.store[kind][key] = obj
        return obj

    def ids(self, kind):
        return set(self.store[kind])

    def _tick(self):
        for rid in list(self.dying):
            if rid in self.stuck:
                continue
            self.dying[rid] -= 1
            if self.dying[rid] <= 0:
                del self.dying[rid]
                for kind, objs in self.store.items():
                    if rid in objs:
                        del objs[rid]
                        if kind == "server":  # Nova deletes the ports it created, detaches the others
                            for pid, port in list(self.store["port"].items()):
                                if getattr(port, "device_id", None) == rid:
                                    if getattr(port, "nova_created", False):
                                        del self.store["port"][pid]
                                    else:
                                        port.device_id, port.device_owner = "", ""

    def list(self, kind, **filters):
        if kind in self.broken_lists:
            raise RuntimeError(f"{kind} endpoint not found")
        self._tick()
        out = list(self.store[kind].values())
        for key, value in filters.items():
            if key == "details":
                continue
            out = [o for o in out if getattr(o, key, None) == value]
        return out

    def _users(self, kind, attr, rid):
        return [o for o in self.store[kind].values() if getattr(o, attr, None) == rid]

    def delete(self, kind, rid, ignore_missing=True):
        if rid not in self.store[kind]:
            return
        rules = {
            "port": [],
            "volume": [("snapshot", "volume_id"), ("server", "volume_id")],
            "subnet": [("port", "subnet_id")],
            "network": [("subnet", "network_id"), ("port", "network_id")],
            "router": [("port", "device_id")],
            "image": [("volume", "image_id"), ("server", "image_id")],
            "security_group": [("port", "security_group_id")],
        }
        for other, attr in rules.get(kind, []):
            users = self._users(other, attr, rid)  # still there while deleting
            if users:
                raise Conflict(f"409: {kind} {rid} is in use by {other} {users[0].id}")
        self.log.append(("delete", kind, rid))
        if kind in ("server", "snapshot", "volume"):
            self.dying[rid] = self.ASYNC_LISTS
            self.store[kind][rid].status = "deleting"
        else:
            del self.store[kind][rid]

    def remove_interface(self, router_id, port_id):
        port = self.store["port"][port_id]
        assert port.device_id == router_id
        self.log.append(("remove_interface", "router", router_id))
        del self.store["port"][port_id]


class FakeProxy:
    def __init__(self, cloud, service):
        self.cloud = cloud
        self.lists = {k.list_method: k.name for k in KINDS if k.service == service}
        self.deletes = {k.delete_method: k.name for k in KINDS if k.service == service}

    def __getattr__(self, name):
        if name in self.lists:
            return lambda **filters: iter(self.cloud.list(self.lists[name], **filters))
        if name in self.deletes:
            return lambda rid, ignore_missing=True: self.cloud.delete(self.deletes[name], rid, ignore_missing)
        raise AttributeError(name)

    def remove_interface_from_router(self, router_id, port_id=None, subnet_id=None):
        self.cloud.remove_interface(router_id, port_id)


def populated() -> tuple[FakeCloud, set, set, set]:
    """A cloud with run A's resources, run B's, and resources that are not ours
    at all (some deliberately look like ours)."""
    c = FakeCloud()
    md_a, md_b = {"octoprobe-run": RUN}, {"octoprobe-run": OTHER}
    tag_a = [f"octoprobe-run={RUN}"]
    # run A: a full topology
    c.add("image", id="img-a", name=f"octoprobe-{RUN}-img", tags=tag_a, status="active")
    c.add("network", id="net-a", name=f"octoprobe-{RUN}-net", tags=tag_a, description="")
    c.add(
        "subnet",
        id="sub-a",
        name=f"octoprobe-{RUN}-sub",
        network_id="net-a",
        tags=[],
        description=f"[octoprobe-run={RUN}]",
    )  # no tag extension: the description carries it
    c.add("router", id="rtr-a", name=f"octoprobe-{RUN}-rtr", tags=tag_a)
    c.add(
        "port",
        id="rif-a",
        device_id="rtr-a",
        device_owner="network:router_interface",
        subnet_id="sub-a",
        network_id="net-a",
        tags=[],
    )  # created by Neutron, untagged
    c.add("security_group", id="sg-a", name=f"octoprobe-{RUN}-sg", tags=tag_a)
    c.add(
        "port",
        id="port-a",
        name=f"octoprobe-{RUN}-port",
        network_id="net-a",
        subnet_id="sub-a",
        security_group_id="sg-a",
        tags=tag_a,
        device_id="srv-a",
        device_owner="compute:nova",
    )
    c.add(
        "port",
        id="nova-port-a",
        device_id="srv-a",
        device_owner="compute:nova",
        network_id="net-a",
        subnet_id="sub-a",
        tags=[],
        nova_created=True,
    )  # created by Nova for the server, untagged
    c.add("floating_ip", id="fip-a", description=f"[octoprobe-run={RUN}]", tags=[])
    c.add("volume", id="vol-a", name=f"octoprobe-{RUN}-vol", metadata=md_a, image_id="img-a", status="in-use")
    c.add("snapshot", id="snap-a", name=f"octoprobe-{RUN}-snap", metadata=md_a, volume_id="vol-a", status="available")
    c.add(
        "server",
        id="srv-a",
        name=f"octoprobe-{RUN}-vm",
        metadata=md_a,
        image_id="img-a",
        volume_id="vol-a",
        status="ACTIVE",
    )
    c.add("keypair", id=None, name=f"octoprobe-{RUN}-kp-1")
    run_a = {
        "img-a",
        "net-a",
        "sub-a",
        "rtr-a",
        "sg-a",
        "port-a",
        "fip-a",
        "vol-a",
        "snap-a",
        "srv-a",
        f"octoprobe-{RUN}-kp-1",
    }
    # run B
    c.add("server", id="srv-b", name=f"octoprobe-{OTHER}-vm", metadata=md_b, status="ACTIVE")
    c.add("keypair", id=None, name=f"octoprobe-{OTHER}-kp")
    run_b = {"srv-b", f"octoprobe-{OTHER}-kp"}
    # not ours: pre-existing resources, some named like ours
    c.add("server", id="srv-x", name=f"octoprobe-{RUN}-lookalike", metadata={"owner": "ops"}, status="ACTIVE")
    c.add("server", id="srv-y", name="prod-db", metadata={"octoprobe-run": "not a run id!"}, status="ACTIVE")
    c.add("image", id="img-x", name="debian-12", tags=["prod"], status="active")
    c.add("network", id="net-x", name="public", tags=[], description="external network")
    c.add("security_group", id="sg-x", name="default", tags=[], description="Default security group")
    c.add("volume", id="vol-x", name="data", metadata={}, status="available")
    c.add("keypair", id=None, name="ops-key")
    c.add("floating_ip", id="fip-x", description="octoprobe-run=", tags=[])
    foreign = {"srv-x", "srv-y", "img-x", "net-x", "sg-x", "vol-x", "ops-key", "fip-x"}
    return c, run_a, run_b, foreign


def everything(c: FakeCloud) -> set:
    return {rid for objs in c.store.values() for rid in objs}


class FakeClock:
    def __init__(self):
        self.now = 0.0

    def monotonic(self):
        return self.now

    def sleep(self, seconds):
        self.now += seconds


def sweeper(c, **kwargs):
    clock = FakeClock()
    kwargs.setdefault("timeout", 30)
    return Sweeper(c, waiter=Waiter(clock=clock.monotonic, sleep=clock.sleep, wall=lambda: 0.0), **kwargs)


# ---------------------------------------------------------------- the sweeper


def test_dry_run_lists_ours_in_order_and_deletes_nothing():
    c, run_a, run_b, foreign = populated()
    before = everything(c)
    report = sweeper(c, run_id=RUN).sweep(dry_run=True)
    assert everything(c) == before and c.log == []
    assert {f.id for f in report.found} == run_a
    kinds = [f.kind for f in report.found]
    assert kinds == sorted(kinds, key=[k.name for k in KINDS].index)
    assert report.deleted == [] and report.ok
    assert "would delete 11 of 11 resource(s) carrying our tag" in report.render()
    assert {f.id for f in sweeper(c, run_id=RUN).find()} == run_a


def test_sweep_one_run_deletes_exactly_that_run():
    c, run_a, run_b, foreign = populated()
    report = sweeper(c, run_id=RUN).sweep()
    assert report.ok, report.render()
    assert {f.id for f in report.deleted} == run_a
    remaining = everything(c)
    assert remaining == run_b | foreign  # nothing else was touched...
    deleted_ids = {rid for action, _, rid in c.log if action == "delete"}
    assert deleted_ids == run_a  # ...and only ours was ever asked to be deleted
    assert ("remove_interface", "router", "rtr-a") in c.log


def test_sweep_all_runs_never_touches_what_is_not_ours():
    c, run_a, run_b, foreign = populated()
    report = sweeper(c).sweep()
    assert report.ok, report.render()
    assert everything(c) == foreign
    assert {f.run_id for f in report.deleted} == {RUN, OTHER}


def test_dependency_order():
    c, *_ = populated()
    sweeper(c, run_id=RUN).sweep()
    order = [rid for _, _, rid in c.log]

    def before(a, b):
        assert order.index(a) < order.index(b), f"{a} must go before {b}: {order}"

    before("srv-a", "port-a")
    before("srv-a", "vol-a")
    before("snap-a", "vol-a")
    before("vol-a", "img-a")
    before("rtr-a", "sub-a")
    before("sub-a", "net-a")
    before("port-a", "sg-a")
    before("fip-a", "rtr-a")


def test_errors_are_collected_and_the_rest_goes_on():
    c, run_a, run_b, foreign = populated()
    c.broken_lists.add("image")
    # a foreign port in our security group: the group cannot go, the rest can
    c.add("port", id="port-x", name="theirs", security_group_id="sg-a", network_id="net-x", tags=[])
    report = sweeper(c, run_id=RUN).sweep()
    assert not report.ok
    messages = [str(e) for e in report.errors]
    assert any(m.startswith("image: cannot list: RuntimeError: image endpoint not found") for m in messages)
    assert any("security_group sg-a" in m and "409" in m for m in messages)
    assert "port-x" in everything(c) and "sg-a" in everything(c) and "img-a" in everything(c)
    assert "net-a" not in everything(c)  # deleted despite the errors around it
    assert foreign <= everything(c)


def test_a_deletion_that_never_finishes_is_reported():
    c, run_a, *_ = populated()
    c.stuck.add("snap-a")
    report = sweeper(c, run_id=RUN, timeout=5, interval=1).sweep()
    errors = [str(e) for e in report.errors]
    assert any(e.startswith("snapshot snap-a") and "not deleted" in e and "timed out" in e for e in errors)
    assert any(e.startswith("volume vol-a") and "409" in e for e in errors)  # its volume could not go either
    assert "snap-a" not in {f.id for f in report.deleted}
    assert "srv-a" in {f.id for f in report.deleted}


def test_kinds_can_be_limited():
    c, *_ = populated()
    report = sweeper(c, run_id=RUN, kinds=["keypair"]).sweep()
    assert [f.kind for f in report.deleted] == ["keypair"]
    with pytest.raises(ValueError, match="unknown resource kind"):
        Sweeper(c, kinds=["bucket"])
    with pytest.raises(ValueError):
        Sweeper(c, run_id="Bad-Id")
