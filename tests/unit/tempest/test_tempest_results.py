"""Parsing a subunit v2 stream recorded from a real Tempest run against the
reference cloud (data/tempest-sample.subunit: 6 results of a compute run,
its server passwords redacted when it was recorded)."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from octoprobe.tempest import results as R

SAMPLE = Path(__file__).parent / "data" / "tempest-sample.subunit"
SERVER = "95c20d03-176e-4ed7-a80e-a9549e23e33d"  # in one traceback of the sample


@pytest.fixture(scope="module")
def parsed():
    return R.parse_subunit(SAMPLE.read_bytes())


def test_every_result_with_its_status(parsed):
    assert [(R.test_name(r.test_id).rsplit(".", 1)[-1], r.status) for r in parsed] == [
        ("test_list_flavors", "pass"),
        ("test_keypairsv22_create_list_show_with_type", "pass"),
        ("ServersTestJSON)", "fail"),
        ("ServersTestManualDisk)", "skip"),
        ("test_invalid_ip_v6_address", "fail"),
        ("test_resize_server_with_null_flavor", "skip"),
    ]
    assert R.counts(parsed) == {"pass": 2, "fail": 2, "skip": 2}


def test_ids_keep_tempests_attributes_and_fixtures_name_their_class(parsed):
    assert parsed[0].test_id.endswith("[id-e36c0eaa-dff5-4082-ad1f-3f9a80aa3f59,smoke]")
    assert R.class_of_fixture(parsed[2].test_id) == "tempest.api.compute.servers.test_create_server.ServersTestJSON"
    assert R.class_of_fixture(parsed[0].test_id) is None
    assert R.test_name(parsed[0].test_id) == "tempest.api.compute.flavors.test_flavors.FlavorsV2TestJSON" \
                                             ".test_list_flavors"


def test_durations_from_the_timestamps(parsed):
    assert parsed[0].duration == pytest.approx(0.022137)
    assert all(r.duration is not None and r.duration >= 0 for r in parsed)


def test_reasons(parsed):
    assert parsed[0].reason == ""
    assert parsed[3].reason == "DiskConfig extension not enabled."
    assert parsed[5].reason == "Resize not available."
    fail = parsed[2].reason
    assert fail.splitlines()[-1].startswith("Details: {'code': 404") and "os-interface" in fail
    assert len(fail.splitlines()) <= 12  # the end of the traceback only


def test_secrets_the_caller_names_are_redacted(parsed):
    assert SERVER in parsed[2].reason
    again = R.parse_subunit(SAMPLE.read_bytes(), secrets=[SERVER, ""])
    assert SERVER not in again[2].reason and "<redacted>" in again[2].reason
    assert [r.status for r in again] == [r.status for r in parsed]


def test_progress_callback_sees_each_result_as_it_is_read():
    seen = []
    out = R.parse_subunit(io.BytesIO(SAMPLE.read_bytes()), on_result=seen.append)
    assert seen == out


def test_a_stream_that_is_not_subunit_is_an_error():
    with pytest.raises(R.SubunitError, match="not a subunit v2 stream"):
        R.parse_subunit(b"Traceback (most recent call last):\n  boom\n")
    assert R.parse_subunit(b"") == []


def test_to_dict(parsed):
    assert parsed[5].to_dict() == {"test_id": parsed[5].test_id, "status": "skip",
                                   "duration": parsed[5].duration, "reason": "Resize not available."}


def test_headline_names_the_cause(parsed):
    assert R.headline(parsed[2].reason) == (
        "tempest.lib.exceptions.NotFound: Object not found | Details: {'code': 404, 'message': 'The resource "
        "could not be found: /compute/v2.1/servers/95c20d03-176e-4ed7-a80e-a9549e23e33d/os-interface'}")
    assert R.headline(parsed[4].reason).startswith("testtools.matchers._impl.MismatchError: <bound method")
    assert len(R.headline(parsed[4].reason)) == 200
    assert R.headline("Resize not available.") == "Resize not available."
    assert R.headline("") == ""


def test_a_chained_traceback_keeps_its_first_exception():
    chained = "\n".join(["Traceback (most recent call last):", "  File x", "jsonschema.exceptions.ValidationError: "
                         "Additional properties are not allowed ('x' was unexpected)", "",
                         "During handling of the above exception, another exception occurred:", "",
                         *[f"  frame {i}" for i in range(20)],
                         "tempest.lib.exceptions.InvalidHTTPResponseBody: HTTP response body is invalid"])
    from testtools.content import text_content

    reason = R._reason({"traceback": text_content(chained)}, R.FAIL)
    assert reason.splitlines()[0].startswith("jsonschema.exceptions.ValidationError")
    assert R.headline(reason).startswith("jsonschema.exceptions.ValidationError: Additional properties")
