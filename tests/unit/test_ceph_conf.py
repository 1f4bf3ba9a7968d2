"""The reference cluster's ceph.conf is a pure function of topology and paths."""

import configparser
from pathlib import Path

from octoprobe.reference_impl.ceph_cluster import render_ceph_conf
from octoprobe.reference_impl.state import CloudPaths
from octoprobe.reference_impl.topology import default_topology_path, load_topology, parse_topology

FSID = "00000000-1111-2222-3333-444444444444"


def _conf(topology, root=Path("/state")) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None)
    parser.read_string(render_ceph_conf(topology, CloudPaths(root), FSID))
    return parser


def test_default_topology_conf():
    topo = load_topology(default_topology_path())
    conf = _conf(topo)
    g = conf["global"]
    assert g["fsid"] == FSID
    assert g["mon_host"] == "[v2:198.18.0.2:3300,v1:198.18.0.2:6789]"
    assert g["public_network"] == "198.18.0.0/24"
    assert g["osd_pool_default_size"] == "3" and g["osd_pool_default_min_size"] == "2"
    assert g["mon_osd_down_out_interval"] == "10"
    assert conf["osd"]["osd_recovery_sleep"] == "0"
    osd_sections = [s for s in conf.sections() if s.startswith("osd.")]
    assert len(osd_sections) == 8
    # every OSD sits in its host and rack, and binds to its host's address
    for osd_id, host, rack in topo.osd_layout():
        section = conf[f"osd.{osd_id}"]
        assert section["crush_location"] == f"root=default rack={rack} host={host}"
        assert section["public_addr"] == str(topo.address_of(host)[0].ip)
        assert section["bluestore_block_size"] == str(8 * 2**30)


def test_everything_lives_in_the_state_dir():
    text = render_ceph_conf(load_topology(default_topology_path()), CloudPaths(Path("/st")), FSID)
    paths = [word for word in text.split() if word.startswith("/")]
    assert paths and all(p.startswith("/st/") for p in paths), paths
    assert "/etc/ceph" not in text and "/var/lib/ceph" not in text


def test_settings_follow_the_topology():
    topo = parse_topology(
        """
underlay: {ipv4: 198.18.4.0/24}
ceph: {pool_size: 2, pool_min_size: 1, down_out_interval: 42}
control: {name: boss}
racks:
  - name: a
    hosts: [{name: a1, roles: [storage], osds: {count: 2, size: 3GiB}}]
  - name: b
    hosts: [{name: b1, roles: [storage, compute], osds: {count: 1, size: 4GiB}}]
""",
        "t.yaml",
    )
    conf = _conf(topo)
    assert conf["global"]["mon_host"] == "[v2:198.18.4.2:3300,v1:198.18.4.2:6789]"
    assert conf["global"]["mon_initial_members"] == "boss"
    assert conf["global"]["osd_pool_default_size"] == "2"
    assert conf["global"]["mon_osd_down_out_interval"] == "42"
    assert [s for s in conf.sections() if s.startswith("osd.")] == ["osd.0", "osd.1", "osd.2"]
    assert conf["osd.2"]["crush_location"] == "root=default rack=b host=b1"
    assert conf["osd.1"]["bluestore_block_size"] == str(3 * 2**30)


def test_aio_limit_is_raised_only_when_the_osds_would_not_fit(tmp_path):
    from octoprobe.reference_impl.ceph_cluster import AIO_MAX_NR, ensure_aio_headroom

    said = []
    (tmp_path / "aio-nr").write_text("59392\n")
    (tmp_path / "aio-max-nr").write_text("65536\n")
    ensure_aio_headroom(1, said.append, tmp_path)
    assert (tmp_path / "aio-max-nr").read_text() == "65536\n" and not said, "one more OSD fits"
    ensure_aio_headroom(8, said.append, tmp_path)
    assert (tmp_path / "aio-max-nr").read_text() == f"{AIO_MAX_NR}\n"
    assert said == [f"ceph: fs.aio-max-nr raised from 65536 to {AIO_MAX_NR} (59392 in use; an OSD takes about 2048)"]
    ensure_aio_headroom(8, said.append, tmp_path / "missing")  # no /proc: nothing to check, no error
