"""A network partition: a storage host cut off, its daemons alive."""

import pytest


@pytest.mark.chaos_fault("takes one storage host's link down; its daemons keep running")
def test_partitioned_host_is_marked_down_and_rejoins_losing_nothing(chaos):
    result = chaos.run("partition")
    chaos.assert_passed(result)
