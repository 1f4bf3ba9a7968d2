"""The include list built from the interop guideline, and results mapped back."""

from __future__ import annotations

import re

import pytest

from octoprobe.interop import Capability, TempestTest, load_guideline
from octoprobe.tempest import testlist

TOKEN_ID = "6f8e4436-fc96-4282-8122-e41df57197a9"
TOKEN_TEST = f"tempest.api.identity.v3.test_tokens.TokensV3Test.test_create_token[id-{TOKEN_ID}]"


@pytest.fixture(scope="module")
def guideline():
    return load_guideline("2020.06")


def _regexes(text: str) -> list[re.Pattern]:
    # as stestr reads an include list: before '#' is the regex
    return [re.compile(line.split("#")[0].strip()) for line in text.splitlines() if line.split("#")[0].strip()]


def test_select_identity_and_image_from_the_bundled_guideline(guideline):
    selected = testlist.select(guideline, ["identity", "image"])
    assert [s.service for s in selected].count("identity") == 8
    assert [s.service for s in selected].count("image") == 20
    ids = [s.idempotent_id for s in selected]
    assert len(ids) == len(set(ids)) and TOKEN_ID in ids
    flagged = [s for s in selected if s.flagged]
    assert [s.test.name.rsplit(".", 1)[1] for s in flagged] == ["test_list_projects_returns_only_authorized_projects"]
    without = testlist.select(guideline, ["identity"], include_flagged=False)
    assert len(without) == 7 and not any(s.flagged for s in without)


def test_select_all_services_and_refuse_unknown_ones(guideline):
    every = testlist.select(guideline)
    assert {s.service for s in every} == {"identity", "image", "compute", "network", "block-storage"}
    assert testlist.select(guideline, []) == []
    with pytest.raises(ValueError, match="unknown service.*volume.*services: identity"):
        testlist.select(guideline, ["volume"])


def test_a_test_in_two_capabilities_is_selected_once():
    test = TempestTest("tempest.api.x.T.test_a", "11111111-2222-3333-4444-555555555555")
    caps = {
        "a": Capability("a", "nova", "", False, "", (test,)),
        "b": Capability("b", "nova", "", False, "", (test,)),
    }
    from octoprobe.interop import Guideline

    g = Guideline("x", caps, {"os_powered_compute": {"required": ("a", "b")}})
    selected = testlist.select(g)
    assert [s.capability.name for s in selected] == ["a"]


@pytest.mark.parametrize("test_id,matches", [
    (TOKEN_TEST, True),
    (f"tempest.api.identity.v3.test_tokens.TokensV3Test.test_create_token[id-{TOKEN_ID},smoke]", True),
    (f"tempest.api.identity.v3.moved.Elsewhere.test_renamed[smoke,id-{TOKEN_ID}]", True),  # moved: the id holds
    (f"tempest.api.identity.v3.test_tokens.TokensV3Test.test_create_token[id-{TOKEN_ID[:-1]}0]", False),
    (f"tempest.api.identity.v3.test_tokens.TokensV3Test.test_create_token[id-{TOKEN_ID}0]", False),
    ("tempest.api.identity.v3.test_tokens.TokensV3Test.test_create_token", False),
    (f"other.api.T.test[id-{TOKEN_ID}]", False),
])
def test_include_regex_is_anchored_on_the_idempotent_id(test_id, matches):
    regex = re.compile(testlist.include_regex(TempestTest("tempest.api.identity.v3.test_tokens.TokensV3Test"
                                                          ".test_create_token", TOKEN_ID)))
    assert bool(regex.search(test_id)) is matches


def test_include_regex_refuses_an_id_that_is_not_a_uuid():
    with pytest.raises(ValueError, match="not a UUID"):
        testlist.include_regex(TempestTest("tempest.x.T.test", ".*"))


def test_rendered_include_list_selects_exactly_the_guideline_tests(guideline):
    selected = testlist.select(guideline, ["identity"])
    text = testlist.render_include_list(selected)
    regexes = _regexes(text)
    assert len(regexes) == 8
    assert "# identity-v3-tokens-create: tempest.api.identity.v3.test_tokens.TokensV3Test.test_create_token" in text
    ids = [f"{s.test.name}[id-{s.idempotent_id},smoke]" for s in selected]
    others = ["tempest.api.identity.admin.v3.test_users.UsersV3TestJSON.test_user_update"
              "[id-b4f6ea44-3e63-4c67-a1d0-c4e7c8d2bd22]"]
    chosen = [t for t in ids + others if any(r.search(t) for r in regexes)]
    assert chosen == ids
    assert testlist.render_include_list([]) == ""


def test_idempotent_id_of():
    assert testlist.idempotent_id_of(TOKEN_TEST) == TOKEN_ID
    assert testlist.idempotent_id_of(TOKEN_TEST.replace("[id-", "[smoke,id-")) == TOKEN_ID
    assert testlist.idempotent_id_of(TOKEN_TEST.replace(TOKEN_ID, TOKEN_ID.upper())) == TOKEN_ID
    assert testlist.idempotent_id_of("setUpClass (tempest.api.identity.v3.test_tokens.TokensV3Test)") is None
    assert testlist.idempotent_id_of("tempest.api.x.T.test_no_attrs") is None


def test_map_results_and_the_preferred_of_several_tests_with_one_id(guideline):
    selected = testlist.select(guideline, ["identity"])
    create = next(s for s in selected if s.idempotent_id == TOKEN_ID)
    sub = f"tempest.api.identity.v3.test_tokens.SubclassTest.test_create_token[id-{TOKEN_ID}]"
    found, missing = testlist.map_results(selected, [sub, TOKEN_TEST, "setUpClass (tempest.api.x.T)"])
    assert found == {sub: create, TOKEN_TEST: create}
    assert len(missing) == 7 and create not in missing
    assert testlist.preferred(create, [sub, TOKEN_TEST]) == TOKEN_TEST  # the guideline's own class
    assert testlist.preferred(create, [sub]) == sub
    with pytest.raises(ValueError):
        testlist.preferred(create, [])


def test_all_tests_include_list_by_regex_service_or_everything():
    assert _regexes(testlist.all_tests_include_list())[0].search("plugin_x.tests.test_a.T.test_b")
    compute = _regexes(testlist.all_tests_include_list(["compute", "block-storage"]))
    assert [bool(r.search("tempest.api.compute.servers.test_x.T.test_y")) for r in compute] == [True, False]
    assert compute[1].search("tempest.api.volume.test_volumes_get.T.test_z")
    assert not any(r.search("tempest.api.computeish.T.t") for r in compute)
    assert testlist.all_tests_include_list(["compute"], regex="^x$").endswith("^x$\n")
    with pytest.raises(ValueError, match="--regex"):
        testlist.all_tests_include_list(regex="(")
    with pytest.raises(ValueError, match="unknown service"):
        testlist.all_tests_include_list(["volume"])


@pytest.mark.parametrize("test_id, group", [
    (TOKEN_TEST, "identity"),
    ("tempest.api.volume.test_volumes_get.VolumesGetTest.test_x[id-1]", "block-storage"),
    ("tempest.api.object_storage.test_container.T.test_x", "tempest-object_storage"),
    ("tempest.scenario.test_minimum_basic.TestMinimumBasicScenario.test_minimum_basic_scenario", "tempest-scenario"),
    ("barbican_tempest_plugin.tests.api.test_secrets.SecretsTest.test_create[id-2]", "barbican_tempest_plugin"),
])
def test_group_of(test_id, group):
    assert testlist.group_of(test_id) == group


def test_select_listed_maps_known_ids_to_their_capability_and_others_to_their_group(guideline):
    other = "tempest.api.compute.admin.test_x.T.test_y[id-aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee,smoke]"
    plugin = "p_tempest_plugin.tests.test_w.W.test_v"
    selected = testlist.select_listed([TOKEN_TEST, other, plugin, other], guideline)
    assert [s.test_id for s in selected] == [TOKEN_TEST, other, plugin]  # each once, in order
    assert selected[0].capability.name == "identity-v3-tokens-create" and selected[0].service == "identity"
    assert selected[1].capability.name == "tempest:compute" and selected[1].service == "compute"
    assert selected[1].idempotent_id == "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"
    assert selected[2].capability.name == "tempest:p_tempest_plugin" and selected[2].idempotent_id == ""
    assert not any(s.flagged for s in selected)
    assert selected[0].test.name == TOKEN_TEST.split("[")[0]
