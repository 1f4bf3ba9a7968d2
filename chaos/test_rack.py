"""A rack goes dark; two racks go dark at once."""

import pytest


@pytest.mark.chaos_fault("kills every daemon of one rack and takes its uplink down")
def test_one_rack_behaves_as_predicted_and_loses_nothing(chaos):
    result = chaos.run("rack")
    chaos.assert_passed(result)


@pytest.mark.chaos_fault("kills every daemon of two racks and takes their uplinks down")
def test_two_racks_block_io_lose_nothing_and_recover_when_they_return(chaos):
    result = chaos.run("two-racks")
    chaos.assert_passed(result)
    # the oracle decides whether I/O must block here (it does with 4 racks, size 3,
    # min_size 2); the scenario fails when what happened differs from it
    assert result.observed["initial"] == result.plan.prediction.initial, result.summary()
