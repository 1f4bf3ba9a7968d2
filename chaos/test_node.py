"""A storage node loses power; a node returns after its data was re-replicated."""

import pytest


@pytest.mark.chaos_fault("kills every daemon of one storage node and takes its link down")
def test_one_node_heals_to_full_redundancy_and_loses_nothing(chaos):
    result = chaos.run("node")
    chaos.assert_passed(result)
    assert result.measurements.detect_s is not None, result.summary()


@pytest.mark.chaos_fault("takes one storage node down until its data is re-replicated, then brings it back")
def test_node_returning_after_re_replication_gets_its_share_back(chaos):
    result = chaos.run("node-return")
    chaos.assert_passed(result)
    assert result.observed.get("pgs_on_absent_osds") and not any(result.observed["pgs_on_absent_osds"].values()), \
        result.summary()
    assert all(result.observed.get("pgs_on_returned_osds", {0: 0}).values()), result.summary()
