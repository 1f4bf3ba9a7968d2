"""Measurements from a timeline, the monitor's waits, and judging a cluster's
state — on recorded ``ceph status`` outputs (tests/unit/data/ceph) and on
timelines built from them."""

from __future__ import annotations

import json
import time
from dataclasses import replace
from pathlib import Path

import pytest

from octoprobe.ceph import TimelinePoint, parse_status
from octoprobe.chaos.measure import ClusterMonitor, Event, MonitorTimeout, Timeline, measure
from octoprobe.chaos.oracle import DEGRADED, HEAL_TO_FULL, IO_BLOCKED, blocked_pgs, classify_status
from octoprobe.chaos.workload import WriteRecord
from octoprobe.shell import CommandError

CEPH = Path(__file__).parent / "data" / "ceph"


def status(name: str):
    return parse_status(json.loads((CEPH / name).read_text()))


HEALTHY = status("status_healthy.json")  # 3 OSDs up and in, 17 PGs active+clean
DEGRADED_S = status("status_degraded.json")  # osd.2 killed: undersized+degraded
RECOVERING = status("status_recovering.json")  # osd.2 out: recovering
INACTIVE = status("status_inactive.json")  # two of three OSDs down: undersized+peered


def test_recorded_states_are_judged_as_ceph_means_them():
    assert classify_status(HEALTHY) == HEAL_TO_FULL
    assert classify_status(DEGRADED_S) == DEGRADED
    assert classify_status(RECOVERING) == DEGRADED
    assert classify_status(INACTIVE) == IO_BLOCKED
    assert blocked_pgs(INACTIVE.pgs.by_state) > 0 and blocked_pgs(DEGRADED_S.pgs.by_state) == 0


def test_brief_peering_is_not_blocked_io_but_stale_and_down_are():
    assert blocked_pgs({"peering": 5, "active+clean": 10}) == 0
    assert blocked_pgs({"stale+active+clean": 4}) == 0  # stale but still active: served from cache of state
    assert blocked_pgs({"undersized+degraded+peered": 3, "down": 2, "stale+undersized+peered": 1}) == 6


def pt(t: float, s, **over) -> TimelinePoint:
    return replace(TimelinePoint.from_status(t, s), **over)


def timeline() -> Timeline:
    """A disk fault at t=10 on the recorded 3-OSD cluster, healed at t=40."""
    tl = Timeline(t0=1000.0)
    tl.points = [
        pt(8, HEALTHY), pt(9, HEALTHY),
        pt(11, HEALTHY),  # the PG map lags: still clean right after the kill
        pt(12, DEGRADED_S, osds_up=2), pt(13, DEGRADED_S, osds_up=2, inactive=4),
        pt(14, DEGRADED_S, osds_up=2, degraded=500),
        pt(23, RECOVERING, osds_up=2, osds_in=2, misplaced=12),
        pt(30, HEALTHY, osds_up=2, osds_in=2),
        pt(31, HEALTHY, osds_up=2, osds_in=2),
        pt(41, HEALTHY),  # stale clean report right after the heal
        pt(42, RECOVERING, misplaced=30),
        pt(43, HEALTHY, error="ceph status timed out"),  # a failed poll repeats the last numbers
        pt(50, HEALTHY), pt(51, HEALTHY),
    ]
    tl.events = [Event(10, "inject", "disk osd.2"), Event(40, "heal")]
    return tl


def test_measure_reads_every_phase_off_the_timeline():
    writes = [
        WriteRecord("w0", 10, "x", "during", 1005.0, 1005.1, True),  # before the fault: ignored
        WriteRecord("w1", 10, "x", "during", 1010.5, 1011.0, True),
        WriteRecord("w2", 10, "x", "during", 1011.0, 1024.0, True),  # stalled 13 s
        WriteRecord("w3", 10, "x", "during", 1024.0, 1054.0, False, "timed out"),
        WriteRecord("w4", 10, "x", "during", 1025.0, 1026.0, True),
    ]
    m = measure(timeline(), writes, baseline_up=3, baseline_in=3)
    assert m.detect_s == pytest.approx(2.0)  # t=12: one OSD fewer up
    assert m.out_s == pytest.approx(13.0)  # t=23: one fewer in
    assert m.clean_during_fault_s == pytest.approx(20.0)  # t=30, not the stale t=11
    assert m.clean_after_heal_s == pytest.approx(10.0)  # t=50, not the stale t=41
    assert m.clean_total_s == pytest.approx(40.0)
    assert m.fault_duration_s == pytest.approx(30.0)
    assert m.degraded_peak == 500 and m.misplaced_peak == 30
    assert m.inactive_s == pytest.approx(1.0)  # only t=13 had inactive PGs, until t=14
    assert m.blocked_s == 0.0
    assert (m.writes_during, m.writes_acked_during, m.writes_failed_during) == (4, 3, 1)
    assert m.io_stall_s == pytest.approx(28.0)  # last ack at 1026, the failed write ended at 1054
    assert m.write_latency_max_s == pytest.approx(13.0)
    samples = {s.metric: s for s in m.samples(scenario="disk")}
    assert samples["chaos.time_to_detect"].value == pytest.approx(2.0)
    assert samples["chaos.time_to_clean_after_heal"].unit == "s"
    assert samples["chaos.degraded_objects_peak"].metadata == {"scenario": "disk"}


def test_a_pg_moved_after_the_runner_saw_the_cluster_clean_does_not_undo_clean_after_heal():
    tl = timeline()
    # the runner saw it whole for good at t=52; then, while the writes are read back, the
    # balancer moves a PG (peering) and the timeline ends there
    tl.events.append(Event(52, "clean"))
    tl.points += [pt(60, HEALTHY, active_clean=16)]
    assert measure(tl, [], baseline_up=3, baseline_in=3).clean_after_heal_s == pytest.approx(10.0)
    tl.events.pop()  # without the mark: not clean for good
    assert measure(tl, [], baseline_up=3, baseline_in=3).clean_after_heal_s is None


def test_a_cluster_that_never_heals_has_no_clean_times():
    tl = timeline()
    tl.points = [p for p in tl.points if p.elapsed < 42] + [pt(60, INACTIVE, osds_up=1)]
    m = measure(tl, [], baseline_up=3, baseline_in=3)
    assert m.clean_after_heal_s is None and m.clean_total_s is None
    assert m.io_stall_s is None and m.blocked_s == 0.0
    assert measure(Timeline(0.0), [], baseline_up=3, baseline_in=3).detect_s is None  # nothing injected


class ScriptedClient:
    """``status()`` plays a script of statuses (or errors), one per call."""

    timeout = 5.0

    def __init__(self, script):
        self.script = list(script)
        self.calls = 0

    def status(self):
        item = self.script[min(self.calls, len(self.script) - 1)]
        self.calls += 1
        if isinstance(item, Exception):
            raise item
        return item


def test_monitor_waits_for_a_condition_and_records_events():
    client = ScriptedClient([HEALTHY, CommandError(["ceph"], "monitor unreachable"), DEGRADED_S, INACTIVE])
    mon = ClusterMonitor(client, interval=0.01).start()
    mon.mark("inject")
    s = mon.wait_until(lambda s: s.pgs.inactive > 0, timeout=5, what="inactive PGs")
    tl = mon.stop()
    assert s is INACTIVE
    assert tl.event("inject") is not None
    assert any(p.error and "unreachable" in p.error for p in tl.points)
    with pytest.raises(MonitorTimeout, match="never: not seen within"):
        ClusterMonitor(ScriptedClient([HEALTHY]), interval=0.01).start().wait_until(
            lambda s: False, timeout=0.1, what="never")


def test_waiting_for_clean_ignores_a_stale_clean_report_and_fails_without_progress():
    # clean once (stale), then degraded, then clean for good
    script = [HEALTHY, DEGRADED_S, DEGRADED_S] + [HEALTHY] * 1000
    mon = ClusterMonitor(ScriptedClient(script), interval=0.01).start()
    started = time.monotonic()
    s = mon.wait_progressing(lambda s: s.clean, no_progress=5, max_duration=10, what="clean", stable=0.1)
    mon.stop()
    assert s.clean and time.monotonic() - started >= 0.1
    stuck = ClusterMonitor(ScriptedClient([INACTIVE]), interval=0.01).start()
    with pytest.raises(MonitorTimeout, match="no progress"):
        stuck.wait_progressing(lambda s: s.clean, no_progress=0.2, max_duration=10, what="clean")
    stuck.stop()


def test_settled_means_pg_states_unchanged_and_nothing_recovering():
    mon = ClusterMonitor(ScriptedClient([DEGRADED_S] * 3 + [DEGRADED_S] * 1000), interval=0.01).start()
    s = mon.wait_settled(quiet=0.1, timeout=5)
    assert s.pgs.by_state == DEGRADED_S.pgs.by_state
    mon.stop()
    busy = ClusterMonitor(ScriptedClient([RECOVERING]), interval=0.01).start()  # recovery rates > 0
    with pytest.raises(MonitorTimeout, match="did not settle"):
        busy.wait_settled(quiet=0.05, timeout=0.3)
    busy.stop()
