"""compute-servers-list: GET /servers and /servers/detail filtered by
flavor, image, name, status and changes-since, paginated by limit and
marker, and the filters a cloud must refuse.

The module boots two servers of the run: ``first`` (the smallest flavor)
and ``second`` (the next flavor when the cloud has one), paused (PAUSED; or
stopped, SHUTOFF, where the cloud cannot pause: pausing is instant, a clean
stop of a guest that is still booting takes the cloud's shutdown timeout),
so every filter has one server that matches and one that does not. Lists
are narrowed to the run's servers by the run's name prefix (Nova's name
filter is a regular expression); the filter under test comes on top."""

from __future__ import annotations

import datetime as dt
import urllib.parse
import uuid

import pytest

from .nova import check_error

LIST = "compute-servers-list"


@pytest.fixture(scope="module")
def pair(nova, image, flavors, module_resources):
    first = nova.boot(module_resources, image["id"], flavors[0]["id"])
    second_flavor = flavors[1] if len(flavors) > 1 else flavors[0]
    second = nova.boot(module_resources, image["id"], second_flavor["id"])
    if nova.action(second.id, {"pause": None}).status_code == 202:
        second.server = nova.wait_status(second.id, "PAUSED").value
    else:
        second.server = nova.act_and_wait(second.id, {"os-stop": None}, "SHUTOFF").value
    return first, second


def _q(value: str) -> str:
    return urllib.parse.quote(value, safe="")


def _check(nova, query: str, match: set, other: set, *, detail: bool = False, predicate=None) -> list:
    servers = nova.list_ours(query, detail=detail)
    ids = {s["id"] for s in servers}
    where = f"GET /servers{'/detail' if detail else ''}?{query}"
    assert match <= ids, f"{where} lacks matching servers {sorted(match - ids)}"
    assert not (other & ids), f"{where} returns non-matching servers {sorted(other & ids)}"
    if predicate is not None:
        wrong = [s["id"] for s in servers if not predicate(s)]
        assert not wrong, f"{where} returns servers that do not match: {wrong}"
    return servers


# ---------------------------------------------------------------- filters


@pytest.mark.capability(LIST, "573637f5-7325-47bb-9144-3476d0416908")
def test_list_servers_filter_by_flavor(nova, pair):
    first, second = pair
    flavor = first.server["flavor"]["id"]
    other = {second.id} if second.server["flavor"]["id"] != flavor else set()
    _check(nova, f"flavor={_q(flavor)}", {first.id}, other)


@pytest.mark.capability(LIST, "80c574cc-0925-44ba-8602-299028357dd9")
def test_list_servers_detailed_filter_by_flavor(nova, pair):
    first, second = pair
    flavor = second.server["flavor"]["id"]
    other = {first.id} if first.server["flavor"]["id"] != flavor else set()
    _check(nova, f"flavor={_q(flavor)}", {second.id}, other, detail=True,
           predicate=lambda s: s["flavor"]["id"] == flavor)


@pytest.mark.capability(LIST, "05e8a8e7-9659-459a-989d-92c2f501f4ba")
def test_list_servers_filter_by_image(nova, pair, image):
    first, second = pair
    _check(nova, f"image={image['id']}", {first.id, second.id}, set())


@pytest.mark.capability(LIST, "b3304c3b-97df-46d2-8cd3-e2b6659724e7")
def test_list_servers_detailed_filter_by_image(nova, pair, image):
    first, second = pair
    _check(nova, f"image={image['id']}", {first.id, second.id}, set(), detail=True,
           predicate=lambda s: s["image"] and s["image"]["id"] == image["id"])


@pytest.mark.capability(LIST, "9b067a7b-7fee-4f6a-b29c-be43fe18fc5a")
def test_list_servers_filter_by_server_name(nova, pair):
    first, second = pair
    servers = nova.list(f"name={_q(first.name)}")
    ids = {s["id"] for s in servers}
    assert first.id in ids and second.id not in ids, f"GET /servers?name={first.name} returns {sorted(ids)}"


@pytest.mark.capability(LIST, "f9eb2b70-735f-416c-b260-9914ac6181e4")
def test_list_servers_detailed_filter_by_server_name(nova, pair):
    first, second = pair
    servers = nova.list(f"name={_q(second.name)}", detail=True)
    assert [s["id"] for s in servers] == [second.id], (
        f"GET /servers/detail?name={second.name} returns {[s['name'] for s in servers]}")


@pytest.mark.capability(LIST, "e9f624ee-92af-4562-8bec-437945a18dcb")
def test_list_servers_filtered_by_name_wildcard(nova, pair):
    """The name filter matches a part of the name (it is a regular expression)."""
    first, second = pair
    part = first.name[len(nova.run.prefix) + 1:-1]  # "m-<hex>" without the last character
    _check(nova, f"name={_q(part)}", {first.id}, {second.id}, detail=True,
           predicate=lambda s: part in s["name"])


@pytest.mark.capability(LIST, "ca78e20e-fddb-4ce6-b7f7-bcbf8605e66e")
def test_list_servers_filter_by_active_status(nova, pair):
    first, second = pair
    _check(nova, "status=ACTIVE", {first.id}, {second.id})


@pytest.mark.capability(LIST, "de2612ab-b7dd-4044-b0b1-d2539601911f")
def test_list_servers_detailed_filter_by_server_status(nova, pair):
    first, second = pair
    other = second.server["status"]
    _check(nova, "status=ACTIVE", {first.id}, {second.id}, detail=True, predicate=lambda s: s["status"] == "ACTIVE")
    _check(nova, f"status={other}", {second.id}, {first.id}, detail=True, predicate=lambda s: s["status"] == other)


@pytest.mark.capability(LIST, "3567aef1-43b8-4f8d-b445-b1e95b090fa3")
def test_list_servers_changes_since(nova, pair):
    """changes-since a time before the servers were created lists them, each
    updated at or after that time."""
    first, second = pair
    since = (dt.datetime.now(dt.timezone.utc) - dt.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    _check(nova, f"changes-since={_q(since)}", {first.id, second.id}, set(), detail=True,
           predicate=lambda s: s["updated"] >= since[:19])


# ---------------------------------------------------------------- paging


@pytest.mark.capability(LIST, "614cdfc1-d557-4bac-915b-3e67b48eee76")
def test_list_servers_filter_by_limit(nova, pair):
    """limit=1: one server and a next link."""
    page = nova.get(f"/servers?name=^{_q(nova.run.prefix)}&limit=1", "compute/servers")
    assert len(page["servers"]) == 1, f"?limit=1 returned {len(page['servers'])} servers"
    rels = [link["rel"] for link in page.get("servers_links") or []]
    assert "next" in rels, "?limit=1 with more servers has no next link in servers_links"


@pytest.mark.capability(LIST, "67aec2d0-35fe-4503-9f92-f13272b867ed")
def test_list_servers_detailed_limit_results(nova, pair):
    page = nova.get(f"/servers/detail?name=^{_q(nova.run.prefix)}&limit=1", "compute/servers-detail")
    assert len(page["servers"]) == 1, f"/detail?limit=1 returned {len(page['servers'])} servers"


@pytest.mark.capability(LIST, "bcd04601-d747-4275-80ce-37bab6e46d21")
def test_list_servers_pages_with_marker(nova, pair):
    """Following the next links of limit=1 (marker = the last server) lists
    every server of the run exactly once."""
    everything = [s["id"] for s in nova.list_ours()]
    paged = [s["id"] for s in nova.list_ours("limit=1")]
    assert len(paged) == len(set(paged)), f"paging with limit=1 lists a server twice: {paged}"
    assert sorted(paged) == sorted(everything), f"paging lists {sorted(paged)}; one page lists {sorted(everything)}"
    assert {pair[0].id, pair[1].id} <= set(paged)


@pytest.mark.capability(LIST, "d47c17fb-eebd-4287-8e95-f20a7e627b18")
def test_list_servers_by_limits_greater_than_actual_count(nova, pair):
    everything = {s["id"] for s in nova.list_ours()}
    page = nova.get(f"/servers?name=^{_q(nova.run.prefix)}&limit={len(everything) + 5}", "compute/servers")
    assert {s["id"] for s in page["servers"]} == everything, "a limit above the count does not list every server"


# ---------------------------------------------------------------- filters that match nothing, and refused ones


@pytest.mark.capability(LIST, "5913660b-223b-44d4-a651-a0fbfd44ca75")
def test_list_servers_by_non_existing_flavor(nova, pair):
    assert nova.list(f"flavor={uuid.uuid4()}") == [], "a flavor that does not exist matches servers"


@pytest.mark.capability(LIST, "ff01387d-c7ad-47b4-ae9e-64fa214638fe")
def test_list_servers_by_non_existing_image(nova, pair):
    assert nova.list(f"image={uuid.uuid4()}") == [], "an image that does not exist matches servers"


@pytest.mark.capability(LIST, "e2c77c4a-000a-4af3-a0bd-629a328bde7c")
def test_list_servers_by_non_existing_server_name(nova, pair):
    assert nova.list(f"name={nova.run.prefix}no-such-server") == [], "a name nobody has matches servers"


@pytest.mark.capability(LIST, "fcdf192d-0f74-4d89-911f-1ec002b822c4")
def test_list_servers_status_non_existing(nova, pair):
    """At microversion 2.1 an unknown status matches nothing (2.38 makes it a 400)."""
    assert nova.list("status=non_existing_status") == [], "an unknown status matches servers"


@pytest.mark.capability(LIST, "74745ad8-b346-45b5-b9b8-509d7447fc1f")
def test_list_servers_by_changes_since_future_date(nova, pair):
    future = (dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert nova.list_ours(f"changes-since={_q(future)}") == [], "changes-since a future time lists servers"


@pytest.mark.capability(LIST, "87d12517-e20a-4c9c-97b6-dd1628d6d6c9")
def test_list_servers_by_changes_since_invalid_date(nova, schemas):
    check_error(schemas, nova.request("GET", "/servers?changes-since=2011/01/01"), 400)


@pytest.mark.capability(LIST, "62610dd9-4713-4ee0-8beb-fd2c1aa7f950")
def test_list_servers_by_limits_pass_negative_value(nova, schemas):
    check_error(schemas, nova.request("GET", "/servers?limit=-1"), 400)


@pytest.mark.capability(LIST, "679bc053-5e70-4514-9800-3dfab1a380a6")
def test_list_servers_by_limits_pass_string(nova, schemas):
    check_error(schemas, nova.request("GET", "/servers?limit=testing"), 400)


@pytest.mark.capability(LIST, "cc75ea9a-c227-43ba-9e45-79120d9bc1ae")
def test_list_servers_unknown_marker_is_400(nova, schemas):
    """A marker that is no server: 400 with Nova's error body."""
    check_error(schemas, nova.request("GET", f"/servers?marker={uuid.uuid4()}"), 400)
