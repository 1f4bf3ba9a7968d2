"""Microversion negotiation shared by Nova and Cinder (pure)."""

from __future__ import annotations

import pytest

from octoprobe.reference_impl.api import errors as E
from octoprobe.reference_impl.api.microversions import requested_version

LOW, HIGH = (3, 0), (3, 70)


@pytest.mark.parametrize("headers, wanted", [
    ({}, (3, 0)),
    ({"OpenStack-API-Version": "volume 3.27"}, (3, 27)),
    ({"OpenStack-API-Version": "compute 2.5, volume latest"}, (3, 70)),
    ({"OpenStack-API-Version": "compute 2.5"}, (3, 0)),  # another service's version
    ({"X-Legacy": "3.9"}, (3, 9)),
    ({"OpenStack-API-Version": "volume 3.1", "X-Legacy": "3.9"}, (3, 1)),  # the standard header wins
])
def test_requested_version(headers, wanted):
    assert requested_version(headers, "volume", LOW, HIGH, legacy_header="X-Legacy") == wanted


@pytest.mark.parametrize("value, error", [("volume 3", E.BadRequest), ("volume", E.BadRequest),
                                          ("volume 3.71", E.NotAcceptable), ("volume 2.9", E.NotAcceptable),
                                          ("volume 03.1", E.BadRequest)])
def test_refused_versions(value, error):
    with pytest.raises(error):
        requested_version({"OpenStack-API-Version": value}, "volume", LOW, HIGH)
