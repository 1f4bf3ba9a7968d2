"""CephClient and RbdClient with a fake runner that plays back outputs
recorded from a real Ceph 16.2.15 cluster."""

from __future__ import annotations

from pathlib import Path
from typing import Mapping, Sequence

import pytest

from octoprobe.ceph import CephClient, CephParseError, PgStatsFlushTimeout, RbdClient, model
from octoprobe.ceph.rbd import image_spec
from octoprobe.shell import CommandError, Result

DATA = Path(__file__).parent / "data" / "ceph"

CONF = "/etc/octo/ceph.conf"
KEYRING = "/etc/octo/admin.keyring"


def recorded(name: str) -> str:
    return (DATA / name).read_text()


class FakeRunner:
    """Answers commands from a table keyed by the command words that follow
    the connection options; records every call."""

    def __init__(self, table: Mapping[tuple[str, ...], tuple[int, str, str]]):
        self.table = dict(table)
        self.calls: list[tuple[tuple[str, ...], float]] = []

    @staticmethod
    def words(argv: Sequence[str]) -> tuple[str, ...]:
        out, skip = [], False
        for a in argv[1:]:
            if skip:
                skip = False
                continue
            if a in ("--conf", "--name", "--keyring", "--connect-timeout", "--format"):
                skip = True
                continue
            out.append(a)
        return tuple(out)

    def run(self, argv, *, timeout, check=True, input=None, env=None) -> Result:
        self.calls.append((tuple(argv), timeout))
        key = self.words(argv)
        if key not in self.table:
            raise AssertionError(f"unexpected command {argv}")
        rc, out, err = self.table[key]
        result = Result(tuple(argv), rc, out, err)
        if check and rc != 0:
            raise CommandError(argv, f"exit status {rc}: {err.strip()}", result)
        return result


def ok(name: str) -> tuple[int, str, str]:
    return (0, recorded(name), "")


CEPH_TABLE = {
    ("status",): ok("status_degraded.json"),
    ("health", "detail"): ok("health_detail_degraded.json"),
    ("osd", "tree"): ok("osd_tree_one_down.json"),
    ("pg", "dump", "pgs_brief"): (0, recorded("pgs_brief_degraded.json"), "dumped pgs_brief\n"),
    ("osd", "pool", "ls", "detail"): ok("osd_pool_ls_detail.json"),
    ("df",): ok("df_degraded.json"),
    ("osd", "df"): ok("osd_df_one_down.json"),
    ("osd", "crush", "rule", "dump"): ok("crush_rule_dump.json"),
    ("osd", "pool", "get", "nosuchpool", "size"): (
        2, "", recorded("osd_pool_get_missing.stderr.txt")),
    ("osd", "out", "2"): (0, "", "marked out osd.2. \n"),
    ("mon", "dump"): (0, "not json at all\n", ""),
}


@pytest.fixture
def runner():
    return FakeRunner(CEPH_TABLE)


@pytest.fixture
def client(runner):
    return CephClient(runner, conf=CONF, keyring=KEYRING, timeout=12.5)


def test_argv_has_connection_options_and_json(client, runner):
    client.status()
    argv, timeout = runner.calls[0]
    assert argv == (
        "ceph", "--conf", CONF, "--name", "client.admin", "--keyring", KEYRING,
        "--connect-timeout", "13", "status", "--format", "json",
    )
    assert timeout == 12.5


def test_argv_without_optional_options():
    runner = FakeRunner(CEPH_TABLE)
    CephClient(runner, name=None).status()
    assert runner.calls[0][0] == (
        "ceph", "--connect-timeout", "30", "status", "--format", "json"
    )


def test_models(client):
    s = client.status()
    assert isinstance(s, model.ClusterStatus) and s.objects.degraded == 130
    assert client.health_detail().check("OSD_DOWN").detail
    assert [o.id for o in client.osd_tree().down] == [2]
    assert len(client.pgs()) == 17
    assert client.pool("rbd").size == 3
    with pytest.raises(KeyError):
        client.pool("nope")
    assert [p.name for p in client.pools()] == ["device_health_metrics", "rbd", "data2"]
    assert client.df().pool("rbd").objects == 55
    assert [u.status for u in client.osd_df()] == ["up", "up", "down"]
    assert client.crush_rules()[1].failure_domain == "rack"


def test_snapshot_takes_status_tree_and_pgs(runner):
    client = CephClient(runner, conf=CONF, clock=lambda: 1234.5)
    snap = client.snapshot()
    assert snap.taken_at == 1234.5
    assert snap.status.osds.down == 1
    assert [o.id for o in snap.osds.down] == [2]
    assert len(snap.pgs) == 17
    assert snap.pgs_on_osd(2) == ()  # osd.2 is down: in no acting set
    assert len(snap.pgs_on_osd(0)) == 17
    assert len(snap.pgs_not_clean()) == 16
    assert snap.pgs_inactive() == ()
    assert [FakeRunner.words(a) for a, _ in runner.calls] == [
        ("status",), ("osd", "tree"), ("pg", "dump", "pgs_brief"),
    ]


def test_command_returns_raw_json(client):
    assert client.command("status")["fsid"] == "4052c0b1-9e15-4d73-9bd5-d56fcdbd01a6"
    assert client.command("osd", "out", "2") is None  # nothing on stdout


def test_command_failure_is_a_command_error(client):
    with pytest.raises(CommandError) as err:
        client.command("osd", "pool", "get", "nosuchpool", "size")
    assert "unrecognized pool 'nosuchpool'" in str(err.value)
    assert err.value.result.returncode == 2


def test_non_json_output_is_a_parse_error(client):
    with pytest.raises(CephParseError) as err:
        client.command("mon", "dump")
    assert err.value.command == "ceph mon dump"
    assert "not JSON" in str(err.value) and "not json at all" in str(err.value)


def test_per_call_timeout(client, runner):
    client.command("status", timeout=3)
    assert runner.calls[-1][1] == 3


def test_bad_timeout():
    with pytest.raises(ValueError):
        CephClient(FakeRunner({}), timeout=0)


# ---------------------------------------------------------------- flush_pg_stats

FLUSHED = 51539607563  # tell_osd_flush_pg_stats.json
BEHIND = 51539607561   # osd_last_stat_seq.txt


class ScriptedRunner(FakeRunner):
    """A FakeRunner whose answers may be lists, played in order (the last
    one repeats), for commands polled until they change."""

    def __init__(self, table):
        super().__init__({k: v for k, v in table.items() if not isinstance(v, list)})
        self.scripts = {k: list(v) for k, v in table.items() if isinstance(v, list)}

    def run(self, argv, *, timeout, check=True, input=None, env=None) -> Result:
        script = self.scripts.get(self.words(argv))
        if script:
            self.table[self.words(argv)] = script.pop(0) if len(script) > 1 else script[0]
        return super().run(argv, timeout=timeout, check=check, input=input, env=env)


class FakeClock:
    def __init__(self):
        self.now = 100.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def seq_text(n: int) -> tuple[int, str, str]:
    return (0, f"{n}\n", "")


@pytest.fixture
def clock():
    return FakeClock()


def flush_client(table) -> CephClient:
    return CephClient(ScriptedRunner(table), conf=CONF, keyring=KEYRING, timeout=10)


def test_flush_pg_stats_tells_then_waits_for_the_monitors(clock):
    client = flush_client({
        ("tell", "osd.0", "flush_pg_stats"): ok("tell_osd_flush_pg_stats.json"),
        ("tell", "osd.2", "flush_pg_stats"): (0, "\n51539607570", ""),
        ("osd", "last-stat-seq", "osd.0"): [ok("osd_last_stat_seq.txt"), ok("osd_last_stat_seq.txt"),
                                            seq_text(FLUSHED)],
        ("osd", "last-stat-seq", "osd.2"): [seq_text(51539607571)],
    })
    got = client.flush_pg_stats([2, 0, 2], timeout=30, poll_interval=0.5, clock=clock, sleep=clock.sleep)
    assert got == {0: FLUSHED, 2: 51539607570}
    words = [FakeRunner.words(a) for a, _ in client.runner.calls]
    assert words == [
        ("tell", "osd.0", "flush_pg_stats"), ("tell", "osd.2", "flush_pg_stats"),
        ("osd", "last-stat-seq", "osd.0"), ("osd", "last-stat-seq", "osd.2"),
        ("osd", "last-stat-seq", "osd.0"),
        ("osd", "last-stat-seq", "osd.0"),
    ]
    assert clock.sleeps == [0.5, 0.5]
    # the tell is JSON; last-stat-seq is plain (its JSON output is empty)
    tell, poll = client.runner.calls[0][0], client.runner.calls[2][0]
    assert tell[-2:] == ("--format", "json")
    assert poll == ("ceph", "--conf", CONF, "--name", "client.admin", "--keyring", KEYRING,
                    "--connect-timeout", "10", "osd", "last-stat-seq", "osd.0")


def test_flush_pg_stats_defaults_to_the_up_osds(clock):
    client = flush_client({
        ("osd", "tree"): ok("osd_tree_one_down.json"),  # osd.2 down
        ("tell", "osd.0", "flush_pg_stats"): ok("tell_osd_flush_pg_stats.json"),
        ("tell", "osd.1", "flush_pg_stats"): ok("tell_osd_flush_pg_stats.json"),
        ("osd", "last-stat-seq", "osd.0"): seq_text(FLUSHED),
        ("osd", "last-stat-seq", "osd.1"): seq_text(FLUSHED + 1),
    })
    assert client.flush_pg_stats(clock=clock, sleep=clock.sleep) == {0: FLUSHED, 1: FLUSHED}
    assert clock.sleeps == []


def test_flush_pg_stats_of_no_osd_is_a_no_op(clock):
    client = flush_client({})
    assert client.flush_pg_stats([], clock=clock, sleep=clock.sleep) == {}
    assert client.runner.calls == []


def test_flush_pg_stats_times_out_with_what_is_behind(clock):
    client = flush_client({
        ("tell", "osd.0", "flush_pg_stats"): ok("tell_osd_flush_pg_stats.json"),
        ("tell", "osd.1", "flush_pg_stats"): ok("tell_osd_flush_pg_stats.json"),
        ("osd", "last-stat-seq", "osd.0"): ok("osd_last_stat_seq.txt"),  # stays behind
        ("osd", "last-stat-seq", "osd.1"): seq_text(FLUSHED),
    })
    with pytest.raises(PgStatsFlushTimeout) as err:
        client.flush_pg_stats([0, 1], timeout=5, poll_interval=2, clock=clock, sleep=clock.sleep)
    assert err.value.pending == {0: (FLUSHED, BEHIND)}
    assert err.value.timeout == 5 and err.value.last_error is None
    assert f"osd.0 at {BEHIND} < {FLUSHED}" in str(err.value) and "within 5s" in str(err.value)
    assert isinstance(err.value, TimeoutError)
    assert clock.now == 105.0  # no later than the deadline: sleeps 2, 2, then 1
    assert clock.sleeps == [2, 2, 1]
    # every command's own timeout stays within what is left of the deadline
    polls = [(FakeRunner.words(a), t) for a, t in client.runner.calls]
    assert polls[-1] == (("osd", "last-stat-seq", "osd.0"), 1.0)
    assert all(t <= 10 for _, t in polls)


def test_flush_pg_stats_retries_a_failing_poll(clock):
    mgr_gone = (1, "", "Error ETIMEDOUT: connection timed out\n")
    client = flush_client({
        ("tell", "osd.3", "flush_pg_stats"): ok("tell_osd_flush_pg_stats.json"),
        ("osd", "last-stat-seq", "osd.3"): [mgr_gone, seq_text(FLUSHED)],
    })
    assert client.flush_pg_stats([3], clock=clock, sleep=clock.sleep) == {3: FLUSHED}

    client = flush_client({
        ("tell", "osd.3", "flush_pg_stats"): ok("tell_osd_flush_pg_stats.json"),
        ("osd", "last-stat-seq", "osd.3"): mgr_gone,
    })
    with pytest.raises(PgStatsFlushTimeout) as err:
        client.flush_pg_stats([3], timeout=3, clock=clock, sleep=clock.sleep)
    assert err.value.pending == {3: (FLUSHED, None)}
    assert "osd.3 at ? <" in str(err.value) and "ETIMEDOUT" in err.value.last_error


@pytest.mark.parametrize("osd, rc, stderr, message", [
    (99, 2, "tell_osd_missing.stderr.txt", "ENOENT: problem getting command descriptions from osd.99"),
    (4, 6, "tell_osd_down.stderr.txt", "ENXIO: problem getting command descriptions from osd.4"),
])
def test_flush_pg_stats_of_a_missing_or_down_osd_is_a_command_error(clock, osd, rc, stderr, message):
    client = flush_client({
        ("tell", f"osd.{osd}", "flush_pg_stats"): (rc, "", recorded(stderr)),
    })
    with pytest.raises(CommandError, match=message) as err:
        client.flush_pg_stats([osd], clock=clock, sleep=clock.sleep)
    assert err.value.result.returncode == rc


def test_flush_pg_stats_bad_output_is_a_parse_error(clock):
    client = flush_client({
        ("tell", "osd.0", "flush_pg_stats"): ok("tell_osd_flush_pg_stats.json"),
        ("osd", "last-stat-seq", "osd.0"): ok("osd_last_stat_seq_json.txt"),  # the empty JSON form
    })
    with pytest.raises(CephParseError, match="no output"):
        client.flush_pg_stats([0], clock=clock, sleep=clock.sleep)


def test_flush_pg_stats_bad_arguments():
    client = flush_client({})
    with pytest.raises(ValueError):
        client.flush_pg_stats([0], timeout=0)
    with pytest.raises(ValueError):
        client.flush_pg_stats([0], poll_interval=-1)


# ---------------------------------------------------------------- rbd

RBD_TABLE = {
    ("info", "rbd/vm1-disk"): ok("rbd_info_clone.json"),
    ("info", "rbd/plain"): ok("rbd_info_plain.json"),
    ("info", "rbd/nope"): (2, "", recorded("rbd_info_missing.stderr.txt")),
    ("ls", "rbd"): ok("rbd_ls.json"),
    ("ls", "empty"): (0, "[]", ""),
    ("children", "rbd/base@gold"): ok("rbd_children.json"),
    ("snap", "ls", "rbd/base"): ok("rbd_snap_ls.json"),
    ("create", "--no-progress", "--size", "67108864B", "rbd/plain"): (0, "", ""),
    ("create", "--no-progress", "--size", "1048576B", "--image-feature", "layering",
     "rbd/tiny"): (0, "", ""),
    ("import", "--no-progress", "/srv/img.raw", "rbd/base"): (0, "", ""),
    ("snap", "create", "--no-progress", "rbd/base@gold"): (0, "", ""),
    ("snap", "protect", "rbd/base@gold"): (0, "", ""),
    ("snap", "unprotect", "rbd/base@gold"): (0, "", ""),
    ("snap", "rm", "--no-progress", "rbd/base@gold"): (0, "", ""),
    ("snap", "purge", "--no-progress", "rbd/base"): (0, "", ""),
    ("clone", "rbd/base@gold", "vms/vm1-disk"): (0, "", ""),
    ("flatten", "--no-progress", "vms/vm1-disk"): (0, "", ""),
    ("rm", "--no-progress", "vms/vm1-disk"): (0, "", ""),
}


@pytest.fixture
def rbd():
    return RbdClient(FakeRunner(RBD_TABLE), conf=CONF, keyring=KEYRING, timeout=40)


def test_rbd_info_and_listing(rbd):
    info = rbd.info("rbd", "vm1-disk")
    assert info.pool == "rbd" and info.parent.spec == "rbd/base@gold"
    argv, timeout = rbd.runner.calls[0]
    assert argv == ("rbd", "--conf", CONF, "--name", "client.admin", "--keyring", KEYRING,
                    "info", "rbd/vm1-disk", "--format", "json")
    assert timeout == 40
    assert rbd.info("rbd", "plain").parent is None
    assert rbd.list("rbd") == ["base", "plain", "vm1-disk"]
    assert rbd.list("empty") == []
    assert rbd.exists("rbd", "plain") and not rbd.exists("rbd", "gone")
    assert [str(c) for c in rbd.children("rbd", "base", "gold")] == ["rbd/vm1-disk"]
    assert rbd.snap_list("rbd", "base")[0].protected


def test_rbd_missing_image(rbd):
    with pytest.raises(CommandError, match="No such file or directory"):
        rbd.info("rbd", "nope")


def test_rbd_lifecycle_commands(rbd):
    rbd.create("rbd", "plain", 64 << 20)
    rbd.create("rbd", "tiny", 1 << 20, features=["layering"])
    rbd.import_file("/srv/img.raw", "rbd", "base", timeout=600)
    rbd.snap_create("rbd", "base", "gold")
    rbd.snap_protect("rbd", "base", "gold")
    rbd.clone("rbd", "base", "gold", "vms", "vm1-disk")
    rbd.flatten("vms", "vm1-disk")
    rbd.remove("vms", "vm1-disk")
    rbd.snap_unprotect("rbd", "base", "gold")
    rbd.snap_remove("rbd", "base", "gold")
    rbd.snap_purge("rbd", "base")
    calls = rbd.runner.calls
    assert len(calls) == 11
    assert calls[2][1] == 600  # the import's own timeout
    assert all(t == 40 for _, t in calls[:2] + calls[3:])


def test_rbd_rejects_bad_names_and_sizes(rbd):
    with pytest.raises(ValueError):
        rbd.create("rbd", "x", 0)
    with pytest.raises(ValueError):
        rbd.info("rbd", "a/b")
    with pytest.raises(ValueError):
        rbd.snap_create("rbd", "img", "")
    assert image_spec("p", "i") == "p/i" and image_spec("p", "i", "s") == "p/i@s"
    assert rbd.runner.calls == []
