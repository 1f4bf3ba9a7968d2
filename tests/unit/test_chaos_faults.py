"""The fault interface and the guard: specs, plans, journaling, healing in
every order of events (a fake driver stands in for a cloud)."""

from __future__ import annotations

import json
import os
import signal

import pytest

from octoprobe.faults import (
    ComponentState,
    Fault,
    FaultError,
    FaultGuard,
    FaultJournal,
    FaultPlan,
    FaultSpec,
    FaultStatus,
    interrupts_deferred,
)


# ---------------------------------------------------------------- specs


def test_spec_round_trips_through_a_dict():
    spec = FaultSpec("flap", ("osd.3",), params={"down": 2.0, "up": 8.0, "cycles": 3})
    again = FaultSpec.from_dict(json.loads(json.dumps(spec.to_dict())))
    assert again == spec
    assert again.osd_ids == (3,) and again.target_kind == "osd"
    assert spec.describe() == "flap osd.3"


@pytest.mark.parametrize("kind, targets, scope, message", [
    ("meteor", ("r1",), "", "unknown fault kind"),
    ("disk", (), "", "at least one target"),
    ("disk", ("3",), "", "as 'osd.N'"),
    ("partition", ("r1",), "", "scope is 'host' or 'rack'"),
])
def test_bad_specs_are_refused_with_the_reason(kind, targets, scope, message):
    with pytest.raises(ValueError, match=message):
        FaultSpec(kind, targets, scope=scope)


def test_descriptions_and_target_kinds():
    assert FaultSpec("rack", ("r2", "r4")).describe() == "rack r2+r4"
    assert FaultSpec("partition", ("r1-s1",), scope="host").describe() == "partition of host r1-s1"
    assert FaultSpec("partition", ("r1",), scope="rack").target_kind == "rack"
    assert FaultSpec("node", ("r1-s1",)).target_kind == "host"
    assert FaultSpec("node", ("r1-s1",)).osd_ids == ()


def test_plan_renders_every_step_and_the_blast_radius():
    plan = FaultPlan(FaultSpec("rack", ("r2",)), "reference-cloud", ("uplink down", "SIGKILL osd.2, osd.3"),
                     ("uplink up", "start osd.2, osd.3"), (2, 3), ("r2-s1", "r2-s2"), ("r2",))
    text = plan.render()
    assert text.splitlines()[0] == "fault: rack r2 (driver reference-cloud)"
    assert "blast radius: 1 rack(s): r2" in text
    assert "    - SIGKILL osd.2, osd.3" in text and "    - start osd.2, osd.3" in text
    assert plan.to_dict()["osds"] == [2, 3]


def test_status_is_healthy_only_when_every_component_is():
    spec = FaultSpec("disk", ("osd.1",))
    good = FaultStatus(spec, False, (ComponentState("osd.1 daemon", True, "running"),))
    bad = FaultStatus(spec, True, (ComponentState("osd.1 daemon", True), ComponentState("osd.1 block file", False,
                                                                                       "pulled")))
    assert good.healthy and good.describe() == "disk osd.1: healthy"
    assert not bad.healthy and bad.describe() == "disk osd.1: faulty: osd.1 block file (pulled)"


# ---------------------------------------------------------------- the guard


class FakeFault(Fault):
    def __init__(self, spec, world, fail_heal=False):
        super().__init__(spec)
        self.world = world
        self.fail_heal = fail_heal

    def plan(self):
        return FaultPlan(self.spec, "fake", ("break",), ("mend",))

    def inject(self):
        self.injected = True
        self.world["broken"].add(self.spec.describe())
        self.world["log"].append(("inject", self.spec.describe()))

    def heal(self):
        self.world["log"].append(("heal", self.spec.describe()))
        if self.fail_heal:
            raise RuntimeError("the daemon will not start")
        self.world["broken"].discard(self.spec.describe())
        self.injected = False

    def status(self):
        broken = self.spec.describe() in self.world["broken"]
        return FaultStatus(self.spec, self.injected, (ComponentState(self.spec.describe(), not broken),))


class FakeDriver:
    name = "fake"

    def __init__(self, failing=()):
        self.world = {"broken": set(), "log": []}
        self.failing = set(failing)

    def fault(self, spec):
        return FakeFault(spec, self.world, fail_heal=spec.describe() in self.failing)

    def heal_everything(self):
        return []


def test_guard_journals_before_injecting_and_forgets_after_healing(tmp_path):
    driver = FakeDriver()
    journal = FaultJournal(tmp_path / "chaos" / "faults.json")
    guard = FaultGuard(driver, journal)
    fault = guard.fault(FaultSpec("disk", ("osd.1",)))
    guard.inject(fault)
    assert journal.specs() == [fault.spec]
    assert json.loads(journal.path.read_text())["faults"][0]["pid"] == os.getpid()
    assert not fault.status().healthy
    guard.heal(fault)
    assert journal.specs() == [] and not journal.path.exists()
    assert fault.status().healthy and guard.active == []


def test_guard_heals_everything_newest_first_when_closed(tmp_path):
    driver = FakeDriver()
    with FaultGuard(driver, FaultJournal(tmp_path / "j.json")) as guard:
        for spec in (FaultSpec("disk", ("osd.1",)), FaultSpec("rack", ("r2",))):
            guard.inject(guard.fault(spec))
    assert driver.world["broken"] == set()
    assert [e for e in driver.world["log"] if e[0] == "heal"] == [("heal", "rack r2"), ("heal", "disk osd.1")]


def test_guard_heals_when_the_test_body_raises(tmp_path):
    driver = FakeDriver()
    with pytest.raises(ZeroDivisionError):
        with FaultGuard(driver, FaultJournal(tmp_path / "j.json")) as guard:
            guard.inject(guard.fault(FaultSpec("node", ("r1-s1",))))
            1 / 0
    assert driver.world["broken"] == set()


def test_a_failing_heal_does_not_stop_the_others_and_stays_journaled(tmp_path):
    driver = FakeDriver(failing={"disk osd.1"})
    journal = FaultJournal(tmp_path / "j.json")
    guard = FaultGuard(driver, journal)
    for spec in (FaultSpec("disk", ("osd.1",)), FaultSpec("rack", ("r2",))):
        guard.inject(guard.fault(spec))
    with pytest.raises(FaultError, match="disk osd.1: the daemon will not start"):
        guard.heal_all()
    assert "rack r2" not in driver.world["broken"]
    assert journal.specs() == [FaultSpec("disk", ("osd.1",))]


def test_leftovers_of_a_killed_run_are_healed_from_the_journal(tmp_path):
    driver = FakeDriver()
    journal = FaultJournal(tmp_path / "j.json")
    crashed = FaultGuard(driver, journal)
    crashed.inject(crashed.fault(FaultSpec("partition", ("r3",), scope="rack")))
    # the process dies here; a new one opens the same journal
    healed = FaultGuard(FakeDriver(), FaultJournal(tmp_path / "j.json")).heal_leftovers()
    assert healed == ["partition of rack r3"]
    assert journal.entries() == []


def test_a_damaged_journal_is_an_error_naming_the_file(tmp_path):
    path = tmp_path / "j.json"
    path.write_text("{not json")
    with pytest.raises(FaultError, match="j.json is damaged"):
        FaultJournal(path).entries()


def test_sigint_while_healing_is_deferred_then_raised():
    mended = []
    with pytest.raises(KeyboardInterrupt):
        with interrupts_deferred():
            os.kill(os.getpid(), signal.SIGINT)
            mended.append("still healing after Ctrl-C")
    assert mended == ["still healing after Ctrl-C"]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_guard_heals_through_a_sigint_and_then_raises_it(tmp_path):
    driver = FakeDriver()
    guard = FaultGuard(driver, FaultJournal(tmp_path / "j.json"))
    fault = guard.fault(FaultSpec("disk", ("osd.5",)))
    guard.inject(fault)

    original = fault.heal

    def slow_heal():
        os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C in the middle of healing
        original()

    fault.heal = slow_heal
    with pytest.raises(KeyboardInterrupt):
        guard.heal_all()
    assert driver.world["broken"] == set() and guard.active == []


# ---------------------------------------------------------------- the SSH driver, with a fake host


class FakeHost:
    """A lab node behind the Runner interface: knows which OSDs run and
    which disks are offline, answers the SYSTEMD templates."""

    def __init__(self):
        self.running = {3}
        self.offline: set[str] = set()
        self.commands: list[str] = []

    def run(self, argv, *, timeout, check=True, input=None, env=None):
        from octoprobe.shell import CommandError, Result

        assert argv[:2] == ["sh", "-c"] and timeout > 0
        cmd = argv[2]
        self.commands.append(cmd)
        rc = 0
        if cmd.startswith("systemctl kill"):
            self.running.discard(int(cmd.split("ceph-osd@")[1].split(";")[0]))
        elif cmd.startswith("systemctl start"):
            self.running.add(int(cmd.split("@")[1]))
        elif cmd.startswith("systemctl is-active"):
            rc = 0 if int(cmd.split("@")[1]) in self.running else 3
        elif cmd.startswith("echo offline"):
            self.offline.add(cmd.split("/")[3])
        elif cmd.startswith("echo running"):
            self.offline.discard(cmd.split("/")[3])
        elif cmd.startswith("grep -qx offline"):
            rc = 0 if cmd.split("/")[3] in self.offline else 1
        else:
            raise AssertionError(cmd)
        result = Result(tuple(argv), rc, "", "")
        if check and rc:
            raise CommandError(argv, f"exit status {rc}", result)
        return result


def test_ssh_driver_kills_with_systemd_takes_the_disk_offline_and_revives():
    from octoprobe.faults.ssh import SYSTEMD, SshOsdDriver

    host = FakeHost()
    driver = SshOsdDriver({"stor-r1-1": host}, {3: "stor-r1-1"}, SYSTEMD, devices={3: "sdc"})
    fault = driver.fault(FaultSpec("disk", ("osd.3",)))
    plan = fault.plan()
    assert plan.inject == ("on stor-r1-1 over SSH: systemctl kill --signal=SIGKILL ceph-osd@3; systemctl stop "
                           "ceph-osd@3", "on stor-r1-1: echo offline > /sys/block/sdc/device/state")
    assert plan.heal[-1] == "on stor-r1-1: systemctl start ceph-osd@3"
    fault.inject()
    assert host.running == set() and host.offline == {"sdc"}
    assert {c.name: c.healthy for c in fault.status().components} == {"osd.3 daemon": False, "osd.3 disk": False}
    fault.heal()
    fault.heal()  # idempotent: nothing started twice
    assert host.running == {3} and host.offline == set() and fault.status().healthy
    assert sum(c.startswith("systemctl start") for c in host.commands) == 1


def test_ssh_driver_without_a_device_only_kills_and_refuses_other_kinds():
    from octoprobe.faults.ssh import SYSTEMD, SshOsdDriver

    host = FakeHost()
    driver = SshOsdDriver({"n1": host}, {3: "n1"}, SYSTEMD)
    fault = driver.fault(FaultSpec("disk", ("osd.3",)))
    assert len(fault.plan().inject) == 1
    fault.inject()
    assert host.offline == set() and host.running == set()
    with pytest.raises(FaultError, match="no SSH access to the host of osd.7"):
        driver.fault(FaultSpec("disk", ("osd.7",)))
    with pytest.raises(FaultError, match="needs another driver"):
        driver.fault(FaultSpec("node", ("n1",)))
    assert driver.heal_everything() == ["osd.3 healed"] and host.running == {3}


def test_reference_commands_match_the_clouds_own_command_line():
    from octoprobe.faults.ssh import reference_commands

    c = reference_commands("/s/ceph/ceph.conf", "/s/osd")
    assert c.render(c.start, 2, {}) == ("pgrep -f -- '^ceph-osd --conf /s/ceph/ceph.conf -i 2$' >/dev/null || "
                                        "ceph-osd --conf /s/ceph/ceph.conf -i 2")
    assert c.render(c.disk_offline, 2, {}) == ("test -e /s/osd/ceph-2/block.octoprobe-pulled || mv "
                                               "/s/osd/ceph-2/block /s/osd/ceph-2/block.octoprobe-pulled")
