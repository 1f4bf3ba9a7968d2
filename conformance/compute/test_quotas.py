"""compute-quotas-get: the project's compute quota set and its defaults."""

from __future__ import annotations

import pytest

CAPABILITY = "compute-quotas-get"
CORE = {"cores", "instances", "ram", "key_pairs", "metadata_items"}


def _quota_set(nova, path: str) -> dict:
    return nova.get(path, "compute/quota-set")["quota_set"]


@pytest.mark.capability(CAPABILITY, "9bfecac7-b966-4f47-913f-1a9e2c12134a")
def test_get_default_quotas(nova):
    """GET /os-quota-sets/{project}/defaults: 200, the project's id, the core
    limits as integers (-1: unlimited)."""
    quotas = _quota_set(nova, f"/os-quota-sets/{nova.project_id}/defaults")
    assert quotas["id"] == nova.project_id, f"the default quota set is of {quotas['id']!r}, not {nova.project_id}"
    assert CORE <= set(quotas), f"the default quota set lacks {sorted(CORE - set(quotas))}"


@pytest.mark.capability(CAPABILITY, "f1ef0a97-dbbb-4cca-adc5-c9fbc4f76107")
def test_get_quotas(nova):
    """GET /os-quota-sets/{project} (and ?user_id=<me>): 200, the project's
    id, the core limits; room for at least one server."""
    for query in ("", f"?user_id={nova.user_id}"):
        quotas = _quota_set(nova, f"/os-quota-sets/{nova.project_id}{query}")
        assert quotas["id"] == nova.project_id, f"GET /os-quota-sets/{nova.project_id}{query} is of {quotas['id']!r}"
        assert CORE <= set(quotas), f"the quota set lacks {sorted(CORE - set(quotas))}"
        for key in ("instances", "cores", "ram"):
            assert quotas[key] == -1 or quotas[key] >= 1, f"quota {key} is {quotas[key]}: no server fits"


@pytest.mark.capability(CAPABILITY, "d16f4230-38a2-4ab0-ac95-13bbe414af6e")
def test_quota_detail_usage(nova, server):
    """GET /os-quota-sets/{project}/detail: each limit with in_use and
    reserved; the shared server counts (instances in use >= 1)."""
    detail = nova.get(f"/os-quota-sets/{nova.project_id}/detail", "compute/quota-set-detail")["quota_set"]
    assert detail["id"] == nova.project_id, f"the quota detail is of {detail['id']!r}, not {nova.project_id}"
    assert detail["instances"]["in_use"] >= 1, f"the shared server is not counted: instances {detail['instances']}"
