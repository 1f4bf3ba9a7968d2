"""One disk dies: its OSD daemon is killed and its device pulled."""

import pytest


@pytest.mark.chaos_fault("kills one OSD daemon and pulls its disk")
def test_one_disk_heals_to_full_redundancy_and_loses_nothing(chaos):
    result = chaos.run("disk")
    chaos.assert_passed(result)
    m = result.measurements
    assert m.detect_s is not None and m.out_s is not None, result.summary()
    assert m.clean_after_heal_s is not None, result.summary()
