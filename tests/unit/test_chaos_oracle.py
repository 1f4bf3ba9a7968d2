"""The oracle on cluster states recorded from real reference clouds
(tests/unit/data/chaos, see its README): 3 racks vs 4 racks for a rack loss,
the down-out subtree limit, mon_osd_min_in_ratio, nearfull refusal — and,
where Ceph was then broken for real, the prediction against what Ceph did."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from octoprobe.ceph import (
    CephClient,
    parse_crush_rule_dump,
    parse_osd_df,
    parse_osd_tree,
    parse_pgs_brief,
    parse_pool_ls_detail,
    parse_status,
)
from octoprobe.chaos.inputs import (
    MON_SETTINGS,
    gather,
    parse_config_get,
    parse_osd_dump_laggy,
    parse_osd_dump_ratios,
    settings_from,
)
from octoprobe.chaos.oracle import (
    DEGRADED,
    HEAL_TO_FULL,
    IO_BLOCKED,
    CephSettings,
    OracleInputs,
    classify_status,
    effect_of,
    failure_domains_of,
    predict,
)
from octoprobe.chaos.scenario import ScenarioConfig, ScenarioRefused, ScenarioRunner, choose_spec
from octoprobe.ceph.parse import CephParseError
from octoprobe.faults import FaultGuard, FaultPlan, FaultSpec
from octoprobe.shell import CommandError, Result

DATA = Path(__file__).parent / "data" / "chaos"
MiB = 2**20


def load(case: str, name: str):
    return json.loads((DATA / case / name).read_text())


def recorded_inputs(case: str, *, limit_file: str | None = None, with_pgs: bool = True) -> OracleInputs:
    """OracleInputs exactly as :func:`gather` builds them, from recorded outputs."""
    config = {}
    for key in MON_SETTINGS:
        name = f"config_get_{key}.json"
        if key == "mon_osd_down_out_subtree_limit" and limit_file:
            name = limit_file
        if (DATA / case / name).exists():
            config[key] = parse_config_get(load(case, name), key)
    osd_dump = load(case, "osd_dump.json")
    return OracleInputs(
        tree=parse_osd_tree(load(case, "osd_tree.json")),
        pools=parse_pool_ls_detail(load(case, "osd_pool_ls_detail.json")),
        rules=parse_crush_rule_dump(load(case, "crush_rule_dump.json")),
        usage=parse_osd_df(load(case, "osd_df.json")),
        settings=settings_from(osd_dump, config),
        pgs=parse_pgs_brief(load(case, "pgs_brief.json")) if with_pgs else (),
        laggy=parse_osd_dump_laggy(osd_dump),
    )


def out_in(tree_file: str, case: str) -> set[int]:
    return {o.id for o in parse_osd_tree(load(case, tree_file)) if not o.in_}


# ---------------------------------------------------------------- inputs


def test_settings_come_from_the_running_monitor_and_the_osd_map():
    s = recorded_inputs("four_racks").settings
    assert (s.down_out_interval, s.down_out_subtree_limit, s.min_in_ratio) == (10.0, "row", 0.75)
    assert (s.nearfull_ratio, s.backfillfull_ratio, s.full_ratio) == pytest.approx((0.85, 0.90, 0.95))
    assert not s.noout and s.adjust_down_out_interval
    limit = recorded_inputs("three_racks", limit_file="config_get_mon_osd_down_out_subtree_limit_rack.json")
    assert limit.settings.down_out_subtree_limit == "rack"


def test_osd_dump_parsers_name_what_is_wrong():
    assert parse_osd_dump_ratios({"flags": "noout,sortbitwise", "nearfull_ratio": 0.8, "backfillfull_ratio": 0.9,
                                  "full_ratio": 0.95})["flags"] == ("noout", "sortbitwise")
    with pytest.raises(CephParseError, match="missing nearfull_ratio"):
        parse_osd_dump_ratios({"flags": ""})
    with pytest.raises(CephParseError, match=r"osd_xinfo\[0\] is malformed"):
        parse_osd_dump_laggy({"osd_xinfo": [{"laggy_probability": 1}]})
    with pytest.raises(CephParseError, match="mon_osd_min_in_ratio"):
        parse_config_get({"other": "1"}, "mon_osd_min_in_ratio")
    assert parse_osd_dump_laggy(load("four_racks", "osd_dump.json")) == {i: (0.0, 0.0) for i in range(8)}


# ---------------------------------------------------------------- a rack: 3 vs 4 racks, subtree limit


def test_a_rack_lost_of_four_is_re_replicated_to_full_redundancy():
    inputs = recorded_inputs("four_racks")
    p = predict(inputs, effect_of(FaultSpec("rack", ("r1",)), inputs.tree))
    assert (p.initial, p.outcome, p.after_heal) == (DEGRADED, HEAL_TO_FULL, HEAL_TO_FULL)
    assert p.marked_out == p.out_certain == p.out_candidates == {0, 1} and p.out_count == 2
    assert p.refused is None and not p.data_unavailable
    volumes = next(f for f in p.pools if f.pool == "volumes")
    assert (volumes.initial_worst_up, volumes.initial_blocked_pgs, volumes.settled_domains) == (2, 0, 3)
    assert p.moved_bytes > 0 and max(p.projected_use.values()) < 0.2


def test_a_rack_lost_of_three_stays_degraded_for_want_of_a_third_rack():
    inputs = recorded_inputs("three_racks")  # subtree limit row: the rack is marked out
    p = predict(inputs, effect_of(FaultSpec("rack", ("r3",)), inputs.tree))
    assert p.marked_out == {4, 5}
    assert (p.initial, p.outcome) == (DEGRADED, DEGRADED)
    volumes = next(f for f in p.pools if f.pool == "volumes")
    assert (volumes.settled_domains, volumes.copies_placeable, volumes.settled_worst_up) == (2, 2, 2)
    assert p.moved_bytes > 0 and p.projected_use  # the out OSDs' data has nowhere to go in another rack
    # what Ceph did with the same cluster and fault
    assert p.check_marked_out(out_in("osd_tree_rack_down_limit_row.json", "three_racks")) is None
    assert classify_status(parse_status(load("three_racks", "status_rack_down_limit_row.json"))) == DEGRADED


def test_subtree_limit_rack_keeps_a_dead_rack_in_and_degraded():
    inputs = recorded_inputs("three_racks", limit_file="config_get_mon_osd_down_out_subtree_limit_rack.json")
    p = predict(inputs, effect_of(FaultSpec("rack", ("r3",)), inputs.tree))
    assert p.marked_out == frozenset() and p.out_count == 0
    assert set(p.stay_in) == {4, 5} and "rack r3 is entirely down" in p.stay_in[4]
    assert "mon_osd_down_out_subtree_limit is rack" in p.stay_in[4]
    assert (p.initial, p.outcome) == (DEGRADED, DEGRADED)
    assert p.moved_bytes == 0
    assert p.check_marked_out(out_in("osd_tree_rack_down_limit_rack.json", "three_racks")) is None
    # the same limit with 4 racks: no re-replication either, so no full redundancy
    four = recorded_inputs("four_racks")
    four = replace(four, settings=replace(four.settings, down_out_subtree_limit=inputs.settings.down_out_subtree_limit))
    p4 = predict(four, effect_of(FaultSpec("rack", ("r1",)), four.tree))
    assert p4.outcome == DEGRADED and p4.out_count == 0
    # while a single OSD of the rack is still marked out: its rack is not entirely down
    disk = predict(four, effect_of(FaultSpec("disk", ("osd.0",)), four.tree))
    assert disk.marked_out == {0} and disk.outcome == HEAL_TO_FULL


def test_two_racks_of_four_block_io_then_settle_degraded():
    inputs = recorded_inputs("four_racks")
    p = predict(inputs, effect_of(FaultSpec("rack", ("r1", "r2")), inputs.tree))
    assert (p.initial, p.outcome, p.after_heal) == (IO_BLOCKED, DEGRADED, HEAL_TO_FULL)
    blocked = {f.pool: f.initial_blocked_pgs for f in p.pools}
    assert blocked["volumes"] > 0 and blocked["images"] > 0  # exact, from the recorded PG mappings
    # mon_osd_min_in_ratio 0.75 of 8 OSDs: the monitor stops after 3 outs
    assert p.out_count == 3 and p.out_candidates == {0, 1, 2, 3} and len(p.marked_out) == 3
    assert any("mon_osd_min_in_ratio" in r for r in p.reasons)
    observed = out_in("osd_tree_two_racks_down.json", "four_racks")
    assert p.check_marked_out(observed) is None
    assert p.check_marked_out({0, 1}) == "marked out: expected 3 of [0, 1, 2, 3], observed [0, 1]"
    assert classify_status(parse_status(load("four_racks", "status_two_racks_down.json"))) == DEGRADED


def test_without_the_pg_mappings_the_worst_case_is_assumed():
    inputs = recorded_inputs("four_racks", with_pgs=False)
    p = predict(inputs, effect_of(FaultSpec("rack", ("r1", "r2")), inputs.tree))
    assert p.initial == IO_BLOCKED
    assert all(f.initial_blocked_pgs is None for f in p.pools)


def test_every_rack_down_leaves_data_unavailable_not_lost():
    inputs = recorded_inputs("three_racks")
    p = predict(inputs, effect_of(FaultSpec("rack", ("r1", "r2", "r3")), inputs.tree))
    assert p.data_unavailable and (p.initial, p.outcome) == (IO_BLOCKED, IO_BLOCKED)
    assert any("unavailable (not lost)" in r for r in p.reasons)


# ---------------------------------------------------------------- capacity


def test_a_disk_loss_that_would_overfill_its_rack_is_refused():
    inputs = recorded_inputs("three_racks_small")  # 3 GiB OSDs, 38-53 % full
    p = predict(inputs, effect_of(FaultSpec("disk", ("osd.0",)), inputs.tree), extra_bytes=256 * MiB)
    # with 3 racks every rack holds one copy of everything: osd.0's data can only go to osd.1
    assert p.refused is not None
    assert "osd.1 at" in p.refused and "nearfull_ratio 85%" in p.refused
    assert p.projected_use[1] > 0.85 and all(u < 0.85 for i, u in p.projected_use.items() if i not in (0, 1))
    # the same loss with plenty of room is not refused
    four = recorded_inputs("four_racks")
    assert predict(four, effect_of(FaultSpec("disk", ("osd.0",)), four.tree), extra_bytes=256 * MiB).refused is None


def test_the_refusal_rests_on_the_headroom_for_crush_imbalance():
    inputs = recorded_inputs("three_racks_small")
    bare = predict(inputs, effect_of(FaultSpec("disk", ("osd.0",)), inputs.tree), headroom_factor=1.0)
    assert bare.refused is None and 0.75 < bare.projected_use[1] < 0.85
    assert predict(inputs, effect_of(FaultSpec("disk", ("osd.0",)), inputs.tree)).refused is not None


def test_an_already_nearfull_osd_refuses_any_fault():
    inputs = recorded_inputs("four_racks")
    tight = replace(inputs, settings=replace(inputs.settings, nearfull_ratio=0.05))
    p = predict(tight, effect_of(FaultSpec("disk", ("osd.7",)), tight.tree))
    assert p.refused and "nearfull_ratio 5%" in p.refused


# ---------------------------------------------------------------- the monitor's rules


def test_noout_or_a_zero_interval_mark_nothing_out():
    inputs = recorded_inputs("four_racks")
    for settings in (replace(inputs.settings, noout=True), replace(inputs.settings, down_out_interval=0)):
        p = predict(replace(inputs, settings=settings), effect_of(FaultSpec("node", ("r2-s1",)), inputs.tree))
        assert p.out_count == 0 and p.outcome == DEGRADED and p.moved_bytes == 0
        assert set(p.stay_in) == {2}


def test_a_flapping_osd_is_not_marked_out_while_its_down_spells_are_short():
    inputs = recorded_inputs("four_racks")
    short = predict(inputs, effect_of(FaultSpec("flap", ("osd.5",), params={"down": 2}), inputs.tree, boot_s=6))
    assert short.out_count == 0 and "shorter than mon_osd_down_out_interval" in short.stay_in[5]
    long = predict(inputs, effect_of(FaultSpec("flap", ("osd.5",), params={"down": 30}), inputs.tree))
    assert long.marked_out == {5}


def test_a_laggy_osd_gets_a_longer_grace():
    inputs = recorded_inputs("four_racks")
    laggy = replace(inputs, laggy={**inputs.laggy, 3: (0.5, 60.0)})
    p = predict(laggy, effect_of(FaultSpec("disk", ("osd.3",)), laggy.tree))
    assert p.out_after[3] == pytest.approx(40.0) and p.marked_out == {3}
    no_adjust = replace(laggy, settings=replace(laggy.settings, adjust_down_out_interval=False))
    assert predict(no_adjust, effect_of(FaultSpec("disk", ("osd.3",)), laggy.tree)).out_after[3] == 10.0


def test_a_clearly_laggier_osd_is_the_one_left_in_by_the_in_ratio():
    inputs = recorded_inputs("four_racks")
    laggy = replace(inputs, laggy={**inputs.laggy, 1: (1.0, 120.0)})  # goes out 120 s later than the others
    p = predict(laggy, effect_of(FaultSpec("rack", ("r1", "r2")), laggy.tree))
    assert p.out_certain == p.out_candidates == p.marked_out == {0, 2, 3}
    assert "mon_osd_min_in_ratio" in p.stay_in[1]


def test_added_capacity_rebalances_to_clean():
    inputs = recorded_inputs("four_racks")
    spec = FaultSpec("add-host", ("chaos-add1",), params={"osd_count": 1, "osd_weight": 0.0078})
    p = predict(inputs, effect_of(spec, inputs.tree))
    assert (p.outcome, p.after_heal, p.refused) == (HEAL_TO_FULL, HEAL_TO_FULL, None)
    assert 0 < p.moved_bytes < sum(u.kb_used_data for u in inputs.usage) * 1024 / 4


# ---------------------------------------------------------------- effects, victims, plans


def test_effects_and_blast_radius_come_from_the_crush_tree():
    tree = recorded_inputs("four_racks").tree
    assert effect_of(FaultSpec("node", ("r2-s1",)), tree).down == {2}
    assert effect_of(FaultSpec("partition", ("r3",), scope="rack"), tree).down == {4, 5}
    assert effect_of(FaultSpec("rack", ("r1", "r4")), tree).down == {0, 1, 6, 7}
    assert failure_domains_of(FaultSpec("rack", ("r1", "r2")), tree) == ("r1", "r2")
    assert failure_domains_of(FaultSpec("disk", ("osd.7",)), tree) == ("r4",)
    with pytest.raises(ValueError, match="no osd.9"):
        effect_of(FaultSpec("disk", ("osd.9",)), tree)


def test_victims_are_chosen_by_the_seed():
    tree = recorded_inputs("four_racks").tree
    config = ScenarioConfig()
    assert choose_spec("two-racks", tree, config) == choose_spec("two-racks", tree, config)
    specs = {choose_spec("disk", tree, replace(config, seed=str(i))).targets for i in range(20)}
    assert len(specs) > 1  # another seed, another victim
    assert choose_spec("add-capacity", tree, config).targets == ("chaos-add1",)
    assert choose_spec("partition", tree, config).scope == "host"
    with pytest.raises(ValueError, match="unknown scenario"):
        choose_spec("meteor", tree, config)


class RecordedRunner:
    """Plays the recorded outputs of one state directory back to CephClient."""

    FILES = {
        ("status",): "status.json",
        ("osd", "tree"): "osd_tree.json",
        ("osd", "df"): "osd_df.json",
        ("osd", "pool", "ls", "detail"): "osd_pool_ls_detail.json",
        ("osd", "crush", "rule", "dump"): "crush_rule_dump.json",
        ("osd", "dump"): "osd_dump.json",
        ("pg", "dump", "pgs_brief"): "pgs_brief.json",
    }

    def __init__(self, case: str):
        self.case = case

    def run(self, argv, *, timeout, check=True, input=None, env=None):
        words, skip = [], False
        for a in argv[1:]:
            if skip:
                skip = False
                continue
            if a in ("--conf", "--name", "--keyring", "--connect-timeout", "--format"):
                skip = True
                continue
            words.append(a)
        if words[:4] == ["tell", "mon.ctl", "config", "get"]:
            path = DATA / self.case / f"config_get_{words[4]}.json"
        else:
            path = DATA / self.case / self.FILES[tuple(words)]
        if not path.exists():
            raise CommandError(argv, "exit status 2: not recorded")
        return Result(tuple(argv), 0, path.read_text(), "")


class PlanOnlyDriver:
    name = "plan-only"

    def fault(self, spec):
        from octoprobe.faults.base import Fault, FaultStatus

        class _F(Fault):
            def plan(self):
                racks = spec.targets if spec.kind == "rack" else ()
                return FaultPlan(spec, "plan-only", ("break",), ("mend",), failure_domains=racks)

            def inject(self):
                raise AssertionError("a plan must not inject")

            def heal(self):
                pass

            def status(self):
                return FaultStatus(spec, False, ())
        return _F(spec)

    def heal_everything(self):
        return []


def test_gather_reads_what_the_oracle_needs_through_the_ceph_cli():
    client = CephClient(RecordedRunner("four_racks"), conf="/x/ceph.conf")
    assert gather(client) == recorded_inputs("four_racks")


def test_a_plan_is_read_only_and_refuses_past_the_blast_radius():
    client = CephClient(RecordedRunner("four_racks"), conf="/x/ceph.conf")
    runner = ScenarioRunner(client=client, guard=FaultGuard(PlanOnlyDriver()), objects=lambda: None,
                            config=ScenarioConfig())
    plan = runner.plan("two-racks")
    assert plan.refused is None and plan.prediction.initial == IO_BLOCKED
    text = plan.render()
    assert text.startswith("scenario two-racks: two racks go dark at once")
    assert "expected: rack r" in text and "64 objects x 4 MiB = 256 MiB" in text
    narrow = ScenarioRunner(client=client, guard=FaultGuard(PlanOnlyDriver()), objects=lambda: None,
                            config=ScenarioConfig(max_failure_domains=1))
    refused = narrow.plan("two-racks")
    assert "blast radius: the fault touches 2 failure domains" in refused.refused
    with pytest.raises(ScenarioRefused, match="blast radius"):
        narrow.run("two-racks")


def test_the_default_settings_are_cephs_own():
    s = CephSettings()
    assert (s.down_out_interval, s.down_out_subtree_limit, s.min_in_ratio, s.nearfull_ratio) == (600, "rack",
                                                                                                0.75, 0.85)
