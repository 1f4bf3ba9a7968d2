"""Pure parts of the underlay: names and parsers of recorded `ip -j` output."""

import json
from pathlib import Path

import pytest

from octoprobe.reference_impl.state import check_prefix
from octoprobe.reference_impl.underlay import Names, parse_ip_link_json, parse_netns_list_json

DATA = Path(__file__).parent / "data" / "ip"


def test_parse_root_links_recorded():
    links = parse_ip_link_json(json.loads((DATA / "addr_show_root.json").read_text()))
    spine = links["octo-spine"]
    assert spine.admin_up and spine.operstate == "UP"
    assert "198.18.0.1/24" in spine.addresses
    assert "fd6f:6374:6f00::1/64" in spine.addresses
    assert links["octo-up1"].master == "octo-spine"
    assert links["octo-h1"].master == "octo-tor1"
    assert links["octo-h0"].master == "octo-spine"
    # octo-h3 was recorded while administratively down (a host cut off)
    assert not links["octo-h3"].admin_up
    assert links["lo"].addresses[0] == "127.0.0.1/8"


def test_parse_netns_links_recorded():
    links = parse_ip_link_json(json.loads((DATA / "addr_show_netns.json").read_text()))
    assert set(links) == {"lo", "eth0"}
    assert "198.18.0.3/24" in links["eth0"].addresses


def test_parse_netns_list():
    names = parse_netns_list_json((DATA / "netns_list.json").read_text())
    assert "octo-ctl" in names and len(names) == 13
    assert parse_netns_list_json("") == []
    assert parse_netns_list_json("\n") == []


@pytest.mark.parametrize("prefix", ["op", "octo", "abcde"])
def test_kernel_names_fit_in_ifnamsiz(prefix):
    names = Names(check_prefix(prefix))
    longest = [names.spine, names.tor(99), names.uplink(99), names.downlink(99), names.host_link(999)]
    assert all(len(n) <= 15 for n in longest), longest
    assert all(names.owns(n) for n in longest)
    assert not names.owns(f"{prefix}x-spine")


@pytest.mark.parametrize("bad", ["", "o", "toolong", "Octo", "1abc", "oc-t"])
def test_bad_prefix_refused(bad):
    with pytest.raises(ValueError, match="prefix"):
        check_prefix(bad)
