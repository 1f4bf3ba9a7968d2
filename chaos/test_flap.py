"""A flapping OSD: killed and restarted on a schedule."""

import pytest


@pytest.mark.chaos_fault("kills and restarts one OSD daemon several times")
def test_flapping_osd_loses_nothing_and_settles_clean(chaos):
    result = chaos.run("flap")
    chaos.assert_passed(result)
