"""compute-availability-zones-list: GET /os-availability-zone as a user."""

from __future__ import annotations

import pytest

CAPABILITY = "compute-availability-zones-list"


@pytest.mark.capability(CAPABILITY, "a8333aa2-205c-449f-a828-d38c2489bf25")
def test_get_availability_zone_list_with_non_admin_user(nova, server):
    """GET /os-availability-zone (non-admin): 200, zones with a name and a
    state and no hosts, at least one available, the shared server's zone among them."""
    zones = nova.get("/os-availability-zone", "compute/availability-zones")["availabilityZoneInfo"]
    assert zones, "GET /os-availability-zone lists no zone"
    names = [z["zoneName"] for z in zones]
    assert len(names) == len(set(names)), f"a zone is listed twice: {names}"
    assert any(z["zoneState"]["available"] for z in zones), f"no zone is available: {zones}"
    zone = server.server.get("OS-EXT-AZ:availability_zone")
    if zone:
        assert zone in names, f"the shared server is in zone {zone!r}, which the list lacks: {names}"
