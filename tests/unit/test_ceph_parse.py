"""Parsers against outputs recorded from a real Ceph 16.2.15 cluster
(tests/unit/data/ceph/README.md says how they were made)."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from octoprobe.ceph import model, parse
from octoprobe.ceph.parse import CephParseError

DATA = Path(__file__).parent / "data" / "ceph"


def load(name: str):
    return json.loads((DATA / name).read_text())


# ---------------------------------------------------------------- status


def test_status_healthy():
    s = parse.parse_status(load("status_healthy.json"))
    assert s.fsid == "4052c0b1-9e15-4d73-9bd5-d56fcdbd01a6"
    assert s.health.ok and s.health.checks == ()
    assert s.quorum == ("a",)
    assert s.osds == model.OsdCounts(num_osds=3, up=3, in_=3, epoch=23, remapped_pgs=0)
    assert s.pgs.total == 17
    assert s.pgs.by_state == {"active+clean": 17}
    assert s.pgs.active_clean == 17 and s.pgs.inactive == 0 and s.pgs.all_active_clean
    # Ceph leaves the zero counters and idle rates out: they read as zero
    assert s.objects == model.ObjectCounters(num_objects=95)
    assert s.objects.clean
    assert s.io == model.IoRates()
    assert s.capacity.total_bytes == 9663676416
    assert s.capacity.used_bytes + s.capacity.avail_bytes == s.capacity.total_bytes
    assert s.capacity.data_bytes == 92274898
    assert s.num_pools == 3
    assert s.clean


def test_status_client_io_rates():
    s = parse.parse_status(load("status_client_io.json"))
    assert s.io.write_bytes_sec == 8450850
    assert s.io.read_bytes_sec == 15161
    assert s.io.read_op_per_sec == 18 and s.io.write_op_per_sec == 10
    assert not s.io.recovering
    assert s.clean


def test_status_degraded():
    s = parse.parse_status(load("status_degraded.json"))
    assert s.health.status == model.HEALTH_WARN
    assert s.health.names == ("OSD_DOWN", "OSD_HOST_DOWN", "OSD_RACK_DOWN", "PG_DEGRADED")
    assert "OSD_DOWN" in s.health
    down = s.health.check("OSD_DOWN")
    assert down.severity == "HEALTH_WARN" and down.summary == "1 osds down" and down.count == 1
    assert not down.muted and down.detail == ()
    assert s.health.check("NOPE") is None
    assert s.osds.up == 2 and s.osds.down == 1 and s.osds.in_ == 3 and s.osds.out == 0
    assert s.pgs.by_state == {
        "active+undersized+degraded": 15,
        "active+clean": 1,
        "active+undersized": 1,
    }
    assert s.pgs.active_clean == 1
    assert s.pgs.inactive == 0
    assert s.pgs.count_with("degraded") == 15
    assert s.pgs.count_with("undersized") == 16
    assert s.objects.degraded == 130 and s.objects.degraded_total == 330
    assert s.objects.degraded_ratio == pytest.approx(130 / 330)
    assert s.objects.misplaced == 0 and s.objects.unfound == 0
    # read rate omitted, read ops present as 0, writes present
    assert s.io.read_bytes_sec == 0 and s.io.write_bytes_sec == 5897145
    assert not s.clean
    assert "degraded 130/330" in s.describe()


def test_status_recovering():
    s = parse.parse_status(load("status_recovering.json"))
    assert s.io.recovering
    assert s.io.recovering_objects_per_sec == 2
    assert s.io.recovering_bytes_per_sec == 2620819
    assert s.pgs.count_with("recovering") == 1
    assert s.pgs.count_with("recovery_wait") == 3
    assert s.objects.degraded == 105
    assert s.osds.in_ == 2
    assert "recovering 2 obj/s" in s.describe()


def test_status_misplaced_and_peering():
    s = parse.parse_status(load("status_misplaced_peering.json"))
    assert s.objects.misplaced == 12 and s.objects.misplaced_total == 345
    assert s.objects.misplaced_ratio == pytest.approx(12 / 345)
    assert s.objects.degraded == 63
    assert s.pgs.inactive == 3  # "peering" lacks "active"
    assert s.pgs.active_clean == 5
    assert not s.clean


def test_status_inactive_pgs():
    s = parse.parse_status(load("status_inactive.json"))
    assert s.osds.up == 1
    assert s.pgs.inactive == 9  # undersized+degraded+peered and undersized+peered
    assert s.pgs.active_clean == 0
    assert s.health.check("PG_AVAILABILITY").summary == "Reduced data availability: 1 pg inactive"


def test_status_stale_pgs_are_not_clean():
    s = parse.parse_status(load("status_stale.json"))
    assert s.pgs.by_state["stale+active+clean"] == 7
    assert s.pgs.active_clean == 0
    assert s.pgs.inactive == 9
    assert "MON_DISK_LOW" in s.health


def test_status_remapped_is_not_clean_even_when_health_ok():
    # one OSD up but out, 3 racks, size 3: Ceph keeps it in the acting set and
    # reports HEALTH_OK, yet 56 objects are misplaced for good
    s = parse.parse_status(load("status_remapped_stuck.json"))
    assert s.health.ok
    assert s.osds.remapped_pgs == 9
    assert s.pgs.by_state == {"active+clean+remapped": 9, "active+clean": 8}
    assert s.pgs.active_clean == 8 and not s.pgs.all_active_clean
    assert s.objects.misplaced == 56
    assert not s.clean


def test_status_all_recorded_files_parse():
    names = sorted(p.name for p in DATA.glob("status_*.json"))
    names += [f"{d}/{p.name}" for d in ("recovery_out", "recovery_back_in")
              for p in sorted((DATA / d).glob("*.json"))]
    assert len(names) > 15
    for name in names:
        s = parse.parse_status(load(name))
        assert s.pgs.total == sum(s.pgs.by_state.values()), name


def test_status_luminous_nested_osdmap():
    doc = load("status_healthy.json")
    doc["osdmap"] = {"osdmap": doc["osdmap"]}
    s = parse.parse_status(doc)
    assert s.osds.num_osds == 3 and s.osds.up == 3


def test_status_missing_field_is_a_clear_error():
    doc = load("status_healthy.json")
    del doc["pgmap"]["num_pgs"]
    with pytest.raises(CephParseError) as err:
        parse.parse_status(doc)
    assert err.value.command == "ceph status"
    assert "pgmap.num_pgs" in str(err.value)


@pytest.mark.parametrize(
    "mutate, expect",
    [
        (lambda d: d.pop("fsid"), "missing fsid"),
        (lambda d: d.__setitem__("osdmap", []), "osdmap should be an object"),
        (lambda d: d["osdmap"].pop("num_up_osds"), "osdmap.num_up_osds"),
        (lambda d: d["pgmap"]["pgs_by_state"][0].pop("count"), r"pgmap\.pgs_by_state\[0\]\.count"),
        (lambda d: d["pgmap"].__setitem__("degraded_objects", "many"), "pgmap.degraded_objects"),
        (lambda d: d["health"].pop("status"), "status"),
    ],
)
def test_status_bad_shapes(mutate, expect):
    doc = load("status_degraded.json")
    mutate(doc)
    with pytest.raises(CephParseError, match=expect):
        parse.parse_status(doc)


@pytest.mark.parametrize("doc", [None, [], "HEALTH_OK", 3])
def test_status_not_an_object(doc):
    with pytest.raises(CephParseError, match="should be an object"):
        parse.parse_status(doc)


# ---------------------------------------------------------------- health


def test_health_detail_healthy():
    h = parse.parse_health_detail(load("health_detail_healthy.json"))
    assert h == model.Health(status="HEALTH_OK", checks=())


def test_health_detail_degraded_has_detail_lines():
    h = parse.parse_health_detail(load("health_detail_degraded.json"))
    down = h.check("OSD_DOWN")
    assert down.detail == ("osd.2 (root=default,rack=rack3,host=host3) is down",)
    pg = h.check("PG_DEGRADED")
    assert pg.count == 15
    assert len(pg.detail) == 15
    assert pg.detail[0] == "pg 2.0 is active+undersized+degraded, acting [0,1]"


def test_health_detail_inactive_and_stale():
    h = parse.parse_health_detail(load("health_detail_inactive.json"))
    assert "PG_AVAILABILITY" in h
    h = parse.parse_health_detail(load("health_detail_stale.json"))
    assert h.check("MON_DISK_LOW").detail == ("mon.a has 29% avail",)
    assert h.check("OSD_RACK_DOWN").count == 2


def test_health_summary_as_plain_string():
    doc = {
        "status": "HEALTH_WARN",
        "checks": {"OSD_DOWN": {"severity": "HEALTH_WARN", "summary": "1 osds down"}},
    }
    h = parse.parse_health_detail(doc)
    assert h.checks == (model.HealthCheck("OSD_DOWN", "HEALTH_WARN", "1 osds down"),)


def test_health_pre_luminous_summary_list():
    doc = {
        "overall_status": "HEALTH_WARN",
        "summary": [{"severity": "HEALTH_WARN", "summary": "1/3 in osds are down"}],
    }
    h = parse.parse_health_detail(doc)
    assert h.status == "HEALTH_WARN"
    assert h.checks[0].summary == "1/3 in osds are down"


def test_health_check_without_severity():
    doc = load("health_detail_degraded.json")
    del doc["checks"]["OSD_DOWN"]["severity"]
    with pytest.raises(CephParseError, match=r"checks\.OSD_DOWN\.severity"):
        parse.parse_health_detail(doc)


# ---------------------------------------------------------------- osd tree


def test_osd_tree_walks_racks_and_hosts():
    tree = parse.parse_osd_tree(load("osd_tree.json"))
    assert len(tree) == 3
    assert [o.id for o in tree] == [0, 1, 2]
    o0 = tree.osd(0)
    assert (o0.name, o0.host, o0.rack, o0.root) == ("osd.0", "host1", "rack1", "default")
    assert o0.up and o0.in_ and o0.reweight == 1.0
    assert o0.crush_weight == pytest.approx(0.0029, abs=1e-4)
    assert o0.device_class == "hdd" and o0.status == "up"
    assert o0.location == {"host": "host1", "rack": "rack1", "root": "default"}
    assert tree.osd(2).rack == "rack3" and tree.osd(2).host == "host3"
    assert sorted(tree.racks) == ["rack1", "rack2", "rack3"]
    assert sorted(tree.hosts) == ["host1", "host2", "host3"]
    assert tree.bucket("default").type == "root"
    assert set(tree.bucket("rack2").children) == {tree.bucket("host2").id}
    assert [o.id for o in tree.osds_under("rack", "rack2")] == [1]
    assert tree.down == () and tree.out == ()
    with pytest.raises(KeyError):
        tree.osd(7)


def test_osd_tree_down_and_out():
    tree = parse.parse_osd_tree(load("osd_tree_one_down.json"))
    assert [o.id for o in tree.down] == [2]
    assert tree.osd(2).status == "down" and tree.osd(2).in_
    tree = parse.parse_osd_tree(load("osd_tree_one_out.json"))
    assert [o.id for o in tree.out] == [0]
    assert tree.osd(0).up and tree.osd(0).reweight == 0.0
    tree = parse.parse_osd_tree(load("osd_tree_two_down.json"))
    assert [o.id for o in tree.down] == [1, 2]


def test_osd_tree_stray_and_missing_class():
    doc = load("osd_tree.json")
    doc["stray"] = [{"id": 9, "name": "osd.9", "type": "osd", "type_id": 0,
                     "crush_weight": 0, "exists": 1, "status": "down", "reweight": 0}]
    del doc["nodes"][3]["device_class"]  # osd.0
    tree = parse.parse_osd_tree(doc)
    stray = tree.osd(9)
    assert stray.host is None and stray.rack is None and not stray.up and not stray.in_
    assert tree.osd(0).device_class is None


def test_osd_tree_dangling_child_reference():
    doc = load("osd_tree.json")
    # host1 (id -7) loses its rack: osd.0's chain ends at host1
    doc["nodes"] = [n for n in doc["nodes"] if n["name"] != "rack1"]
    doc["nodes"][0]["children"] = [c for c in doc["nodes"][0]["children"] if c != -8]
    tree = parse.parse_osd_tree(doc)
    assert tree.osd(0).host == "host1" and tree.osd(0).rack is None and tree.osd(0).root is None


@pytest.mark.parametrize(
    "mutate, expect",
    [
        (lambda d: d.pop("nodes"), "missing nodes"),
        (lambda d: d["nodes"][3].pop("name"), r"nodes\[3\]\.name"),
        (lambda d: d["nodes"][1].__setitem__("children", "x"), r"nodes\[1\]\.children"),
        (lambda d: d["nodes"][3].__setitem__("reweight", "heavy"), r"nodes\[3\]\.reweight"),
    ],
)
def test_osd_tree_bad_shapes(mutate, expect):
    doc = load("osd_tree.json")
    mutate(doc)
    with pytest.raises(CephParseError, match=expect):
        parse.parse_osd_tree(doc)


# ---------------------------------------------------------------- pgs


def test_pgs_brief_octopus_shape():
    pgs = parse.parse_pgs_brief(load("pgs_brief.json"))
    assert len(pgs) == 17
    assert {p.pool_id for p in pgs} == {1, 2, 3}
    assert all(p.active_clean for p in pgs)
    p = next(p for p in pgs if p.pgid == "2.3")
    assert p.pool_id == 2 and p.state == "active+clean"
    assert len(p.up) == 3 and p.up == p.acting and p.primary == p.acting[0]
    assert len(next(p for p in pgs if p.pool_id == 3).acting) == 2  # size-2 pool


def test_pgs_brief_nautilus_bare_list():
    doc = load("pgs_brief_degraded.json")["pg_stats"]
    pgs = parse.parse_pgs_brief(doc)
    assert len(pgs) == 17
    assert all(2 not in p.acting for p in pgs)  # osd.2 down
    assert sum(p.states >= {"undersized", "degraded"} for p in pgs) == 15


def test_pgs_brief_inactive_and_remapped():
    pgs = parse.parse_pgs_brief(load("pgs_brief_inactive.json"))
    assert sum(p.inactive for p in pgs) == 9
    pgs = parse.parse_pgs_brief(load("pgs_brief_remapped.json"))
    remapped = [p for p in pgs if "remapped" in p.states]
    assert len(remapped) == 9
    assert all(p.up != p.acting and not p.active_clean for p in remapped)
    pgs = parse.parse_pgs_brief(load("pgs_brief_stale.json"))
    assert sum("stale" in p.states for p in pgs) == 7


@pytest.mark.parametrize(
    "doc, expect",
    [
        ({"pg_ready": True}, "missing pg_stats"),
        ({"pg_stats": [{"pgid": "zz", "state": "active", "up": [], "acting": [],
                        "acting_primary": 0}]}, "POOL.SEED"),
        ({"pg_stats": [{"pgid": "1.0", "up": [], "acting": [], "acting_primary": 0}]},
         r"pg_stats\[0\]\.state"),
        ([{"pgid": "1.0", "state": "active", "up": ["a"], "acting": [],
           "acting_primary": 0}], r"\[0\]\.up\[0\]"),
        ("dumped pgs_brief", "should be a list"),
    ],
)
def test_pgs_brief_bad_shapes(doc, expect):
    with pytest.raises(CephParseError, match=expect):
        parse.parse_pgs_brief(doc)


# ---------------------------------------------------------------- pools, df


def test_pool_ls_detail():
    pools = parse.parse_pool_ls_detail(load("osd_pool_ls_detail.json"))
    assert [p.name for p in pools] == ["device_health_metrics", "rbd", "data2"]
    rbd = pools[1]
    assert rbd == model.PoolInfo(
        id=2, name="rbd", size=3, min_size=2, pg_num=8, crush_rule=1,
        application="rbd", applications=("rbd",), type="replicated",
    )
    assert pools[2].size == 2 and pools[2].min_size == 1 and pools[2].application == "rados"
    assert pools[0].application == "mgr_devicehealth"


def test_pool_ls_detail_old_field_names():
    doc = load("osd_pool_ls_detail.json")
    for p in doc:
        p["pool"] = p.pop("pool_id")
        p["crush_ruleset"] = p.pop("crush_rule")
        del p["application_metadata"]
    pools = parse.parse_pool_ls_detail(doc)
    assert [p.id for p in pools] == [1, 2, 3]
    assert pools[1].crush_rule == 1 and pools[1].application is None


def test_pool_ls_detail_missing_size():
    doc = load("osd_pool_ls_detail.json")
    del doc[1]["size"]
    with pytest.raises(CephParseError, match=r"\[1\]\.size"):
        parse.parse_pool_ls_detail(doc)


def test_df():
    df = parse.parse_df(load("df.json"))
    assert df.total_bytes == 9663676416
    assert df.used_bytes == 1127276544
    rbd = df.pool("rbd")
    assert rbd.id == 2 and rbd.objects == 35
    assert rbd.stored_bytes == 29360338
    assert rbd.used_bytes == 88178688  # three replicas and allocation overhead
    assert rbd.max_avail == 2663433728
    assert 0 < rbd.used_fraction < 1
    assert df.pool("data2").stored_bytes == 62914560
    with pytest.raises(KeyError):
        df.pool("nope")
    assert parse.parse_df(load("df_degraded.json")).pool("rbd").objects == 55


def test_df_pre_nautilus_shape():
    doc = load("df.json")
    for p in doc["pools"]:
        s = p["stats"]
        s["raw_bytes_used"] = s["bytes_used"]
        s["bytes_used"] = s.pop("stored")
    doc["stats"]["total_used_bytes"] = doc["stats"].pop("total_used_raw_bytes")
    df = parse.parse_df(doc)
    assert df.pool("rbd").stored_bytes == 29360338
    assert df.pool("rbd").used_bytes == 88178688
    assert df.used_bytes == 1127276544


def test_osd_df():
    usage = parse.parse_osd_df(load("osd_df.json"))
    assert [u.id for u in usage] == [0, 1, 2]
    u = usage[0]
    assert u.kb == 3145728 and u.total_bytes == 3 << 30
    assert u.kb_used + u.kb_avail == u.kb
    assert u.utilization == pytest.approx(12.316, abs=1e-3)
    assert u.pgs == 17 and u.status == "up"
    assert parse.parse_osd_df(load("osd_df_one_down.json"))[2].status == "down"


def test_crush_rule_dump():
    rules = parse.parse_crush_rule_dump(load("crush_rule_dump.json"))
    assert [(r.name, r.failure_domain, r.root) for r in rules] == [
        ("replicated_rule", "host", "default"),
        ("rack-rule", "rack", "default"),
    ]
    one = parse.parse_crush_rule_dump(load("crush_rule_dump.json")[1])
    assert one == (rules[1],)


# ---------------------------------------------------------------- rbd


def test_rbd_info_plain():
    info = parse.parse_rbd_info(load("rbd_info_plain.json"), pool="rbd")
    assert info.name == "plain" and info.pool == "rbd"
    assert info.size == 64 << 20 and info.format == 2
    assert info.objects == 16 and info.order == 22 and info.object_size == 4 << 20
    assert "layering" in info.features
    assert info.parent is None and not info.is_clone


def test_rbd_info_clone_has_parent():
    info = parse.parse_rbd_info(load("rbd_info_clone.json"), pool="rbd")
    assert info.is_clone
    assert info.parent == model.ParentRef(
        pool="rbd", image="base", snapshot="gold", namespace="", overlap=8 << 20
    )
    assert info.parent.spec == "rbd/base@gold"
    base = parse.parse_rbd_info(load("rbd_info_base.json"))
    assert base.pool is None and base.snapshot_count == 1


def test_rbd_info_parent_without_snapshot():
    doc = load("rbd_info_clone.json")
    del doc["parent"]["snapshot"]
    with pytest.raises(CephParseError, match="parent.snapshot") as err:
        parse.parse_rbd_info(doc)
    assert err.value.command == "rbd info"


def test_rbd_ls_children_snaps():
    assert parse.parse_rbd_ls(load("rbd_ls.json")) == ("base", "plain", "vm1-disk")
    kids = parse.parse_rbd_children(load("rbd_children.json"))
    assert kids == (model.ImageRef("rbd", "vm1-disk"),)
    assert str(kids[0]) == "rbd/vm1-disk"
    snaps = parse.parse_rbd_snap_ls(load("rbd_snap_ls.json"))
    assert snaps == (model.RbdSnapshot(id=4, name="gold", size=8 << 20, protected=True),)


def test_rbd_children_legacy_strings():
    kids = parse.parse_rbd_children(["rbd/vm1-disk", "vms/ns1/vm2"])
    assert kids[0] == model.ImageRef("rbd", "vm1-disk")
    assert kids[1] == model.ImageRef("vms", "vm2", namespace="ns1")
    assert kids[1].spec == "vms/ns1/vm2"
    with pytest.raises(CephParseError, match="POOL/IMAGE"):
        parse.parse_rbd_children(["nopool"])


# ---------------------------------------------------------------- model helpers


@pytest.mark.parametrize(
    "state, clean, inactive",
    [
        ("active+clean", True, False),
        ("active+clean+scrubbing+deep", True, False),
        ("active+clean+snaptrim_wait", True, False),
        ("active+clean+remapped", False, False),
        ("stale+active+clean", False, False),
        ("active+undersized+degraded", False, False),
        ("undersized+degraded+peered", False, True),
        ("peering", False, True),
        ("unknown", False, True),
        ("down", False, True),
    ],
)
def test_pg_state_classification(state, clean, inactive):
    assert model.is_active_clean_state(state) is clean
    assert model.is_inactive_state(state) is inactive


def test_pg_summary_describe_and_empty():
    s = model.PgSummary(total=3, by_state={"active+clean": 1, "peering": 2})
    assert s.describe() == "2 peering, 1 active+clean"
    assert model.PgSummary(total=0).all_active_clean
    assert model.PgSummary(total=5).describe() == "5 pgs, no state reported"


def test_models_are_frozen():
    s = parse.parse_status(load("status_healthy.json"))
    with pytest.raises(AttributeError):
        s.fsid = "x"  # type: ignore[misc]
    assert copy.deepcopy(s) == s


# ---------------------------------------------------------------- PG stats flush


def test_flush_pg_stats_sequence_number():
    # Pacific prints a newline and the bare number, even with --format json
    text = (DATA / "tell_osd_flush_pg_stats.json").read_text()
    assert text.startswith("\n")
    seq = parse.parse_flush_pg_stats(json.loads(text), 2)
    assert seq == 51539607563
    assert seq >> 32 == 12  # an OSD map epoch in the high 32 bits, a counter in the low ones
    assert parse.parse_flush_pg_stats({"stat_seq": 7}) == 7
    assert parse.parse_flush_pg_stats("42") == 42


@pytest.mark.parametrize("doc, problem", [
    (None, "no output"),
    ([1], "should be an integer"),
    ({"seq": 1}, "missing stat_seq"),
    (-1, "negative"),
    (True, "should be an integer"),
])
def test_flush_pg_stats_bad_output(doc, problem):
    with pytest.raises(CephParseError) as err:
        parse.parse_flush_pg_stats(doc, 3)
    assert err.value.command == "ceph tell osd.3 flush_pg_stats"
    assert problem in str(err.value)


def test_last_stat_seq():
    assert parse.parse_last_stat_seq((DATA / "osd_last_stat_seq.txt").read_text(), 2) == 51539607561
    # an OSD the monitors have no stats from (osd.99 does not exist)
    assert parse.parse_last_stat_seq((DATA / "osd_last_stat_seq_never_reported.txt").read_text()) == 0


def test_last_stat_seq_json_output_is_empty_hence_plain():
    # why the client asks for the plain output: the JSON one is a bare newline
    with pytest.raises(CephParseError, match="no output") as err:
        parse.parse_last_stat_seq((DATA / "osd_last_stat_seq_json.txt").read_text(), 2)
    assert err.value.command == "ceph osd last-stat-seq osd.2"


@pytest.mark.parametrize("text", ["", "  \n", "-5\n", "12 34\n", "Error EINVAL\n", "0x10"])
def test_last_stat_seq_bad_output(text):
    with pytest.raises(CephParseError):
        parse.parse_last_stat_seq(text)
