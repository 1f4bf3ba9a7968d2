"""Capacity is added: a storage host joins, Ceph rebalances onto it."""

import pytest


@pytest.mark.chaos_fault("adds a storage host to the running cluster, then drains and removes it")
def test_added_host_takes_data_and_the_cluster_returns_to_clean(chaos):
    result = chaos.run("add-capacity")
    chaos.assert_passed(result)
    new = result.observed["new_osds"]
    assert new and all(o["pgs"] > 0 and o["data_bytes"] > 0 for o in new.values()), result.summary()
