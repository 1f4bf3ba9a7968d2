"""bench/chaos_scenarios.py's tables, from recorded per-scenario results
(``tests/unit/data/chaos/bench-results``: the keys the bench reads, cut
from a 1 GiB run of the chaos suite on the reference cloud)."""

from __future__ import annotations

import importlib.util
import json
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
RECORDED = Path(__file__).resolve().parent / "data" / "chaos" / "bench-results"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("bench_chaos_scenarios", ROOT / "bench" / "chaos_scenarios.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_scenario_rows_in_order_with_refusals(bench, tmp_path):
    shutil.copy(RECORDED / "disk.json", tmp_path / "disk.json")
    (tmp_path / "add-capacity.json").write_text(json.dumps({"refused": "adding capacity needs hardware to add"}))
    rows = bench.scenario_rows(tmp_path)
    assert [r["scenario"] for r in rows] == ["disk", "add-capacity"]
    disk = rows[0]
    assert (disk["passed"], disk["predicted"], disk["time_to_clean_s"], disk["acknowledged"], disk["lost"]) == (
        True, "heal-to-full", 38.175, 448, 0)
    assert rows[1] == {"scenario": "add-capacity", "refused": "adding capacity needs hardware to add"}


def test_vm_rows_carry_the_guests_stall_and_both_read_backs(bench):
    (row,) = bench.vm_rows(RECORDED)
    assert row["scenario"] == "vm-node" and row["fault"] == "node r4-s1" and row["same_boot"] is True
    assert (row["io_stall_s"], row["acks_during_fault"], row["acknowledged"]) == (16.263, 82, 210)
    assert (row["lost"], row["corrupt"], row["rados_lost"], row["rados_corrupt"]) == (0, 0, 0, 0)


def test_the_report_prints_both_tables(bench, capsys):
    report = {"data": "1GiB", "cloud_up_s": 31.0, "suite_wall_s": 884.0, "suite_exit": 0,
              "scenarios": bench.scenario_rows(RECORDED), "vm": bench.vm_rows(RECORDED)}
    bench.print_report(report)
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("chaos suite on the reference cloud, 1GiB written before each fault")
    disk = next(line for line in out if line.startswith("disk "))
    assert disk.split()[1:3] == ["pass", "1.2"] and disk.endswith("448/0/0/0")
    vm = next(line for line in out if line.startswith("vm-node"))
    assert "16.3" in vm and vm.endswith("210/0/0; 0/0  yes")
    assert "total wall time of the suite: 884s (exit 0)" in out
