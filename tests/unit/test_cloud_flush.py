"""Cloud.up flushes the OSDs' PG stats before it waits for active+clean
(``ceph status`` lags the OSD map), and tolerates an OSD that goes down
meanwhile."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from octoprobe.ceph import PgStatsFlushTimeout
from octoprobe.reference_impl.cloud import Cloud, CloudError
from octoprobe.reference_impl.state import CloudPaths
from octoprobe.reference_impl.topology import default_topology_path, load_topology
from octoprobe.shell import CommandError


class FakeClient:
    """status() answers OSD map epochs and osd_tree() up-sets from lists (the
    last one repeats); flush_pg_stats() plays a list of outcomes (an
    exception is raised)."""

    def __init__(self, up_sets, outcomes, epochs=(10,)):
        self.up_sets = list(up_sets)
        self.outcomes = list(outcomes)
        self.epochs = list(epochs)
        self.flushed: list[list[int]] = []

    @staticmethod
    def _next(items):
        return items.pop(0) if len(items) > 1 else items[0]

    def status(self):
        return SimpleNamespace(osds=SimpleNamespace(epoch=self._next(self.epochs)))

    def osd_tree(self):
        up = self._next(self.up_sets)
        return [SimpleNamespace(id=i, up=i in up) for i in range(8)]

    def flush_pg_stats(self, osd_ids, *, timeout):
        self.flushed.append(list(osd_ids))
        outcome = self.outcomes.pop(0)
        if isinstance(outcome, BaseException):
            raise outcome
        return {i: 1 for i in osd_ids}


@pytest.fixture
def cloud(tmp_path, monkeypatch):
    monkeypatch.setattr("octoprobe.reference_impl.cloud.time.sleep", lambda s: None)
    messages: list[str] = []
    c = Cloud(CloudPaths(tmp_path), "octu", load_topology(default_topology_path()), progress=messages.append)
    c.messages = messages
    return c


ALL = set(range(8))
TELL_FAILED = CommandError(["ceph", "tell", "osd.4", "flush_pg_stats"],
                           "exit status 6: Error ENXIO: problem getting command descriptions from osd.4")


def test_flushes_every_up_osd(cloud):
    fake = FakeClient([ALL - {4}], [None])
    cloud.client = lambda: fake
    cloud._flush_pg_stats()
    assert fake.flushed == [[0, 1, 2, 3, 5, 6, 7]]
    assert "PG stats of 7 OSDs flushed" in cloud.messages[-1]


def test_flushes_again_when_the_osd_map_changed_meanwhile(cloud):
    # osd.4 restarted: its boot (e11 -> e12) came during the first flush,
    # whose stats from the other OSDs may predate the re-peering
    fake = FakeClient([ALL], [None, None], epochs=[11, 12, 12, 12])
    cloud.client = lambda: fake
    cloud._flush_pg_stats()
    assert fake.flushed == [list(range(8))] * 2
    assert any("OSD map changed while flushing PG stats (e11 -> e12)" in m for m in cloud.messages)
    assert "PG stats of 8 OSDs flushed" in cloud.messages[-1]


def test_an_osd_going_down_meanwhile_is_flushed_around(cloud):
    fake = FakeClient([ALL, ALL - {4}], [TELL_FAILED, None])
    cloud.client = lambda: fake
    cloud._flush_pg_stats()
    assert fake.flushed == [list(range(8)), [0, 1, 2, 3, 5, 6, 7]]
    assert any("ENXIO" in m and "again" in m for m in cloud.messages)


def test_a_flush_that_always_fails_is_an_error(cloud):
    timeout = PgStatsFlushTimeout("the monitors did not get the flushed PG stats within 60s: osd.2 at 5 < 9",
                                  pending={2: (9, 5)}, timeout=60)
    fake = FakeClient([ALL], [timeout] * 3)
    cloud.client = lambda: fake
    with pytest.raises(CloudError, match="could not flush the OSDs' PG stats in 3 attempts: .*osd.2 at 5 < 9"):
        cloud._flush_pg_stats(attempts=3)
    assert len(fake.flushed) == 3


def test_a_map_that_keeps_changing_is_left_to_wait_for_clean(cloud):
    fake = FakeClient([ALL], [None] * 3, epochs=list(range(20, 40)))
    cloud.client = lambda: fake
    cloud._flush_pg_stats(attempts=3)
    assert len(fake.flushed) == 3
    assert "still changing after 3 flushes" in cloud.messages[-1]
