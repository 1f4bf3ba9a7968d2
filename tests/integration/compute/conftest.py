"""The compute tests' cloud: a small reference cloud (3 racks, each with one
storage and one compute host; pool size 3) with prefix ``octv`` and underlay
198.18.30.0/24 / fd6f:6374:6f30::/64, brought up once per session, and the
guest image in RBD. Everything is removed at the end, whatever happened:
every QEMU first, then ``cloud down --purge``."""

from __future__ import annotations

import os
from typing import Iterator

import pytest

from vmlab import VmLab, missing_programs

PREFIX = "octv"
UNDERLAY_V4 = "198.18.30.0/24"
UNDERLAY_V6 = "fd6f:6374:6f30::/64"


def require_environment() -> None:
    if os.geteuid() != 0:
        pytest.skip("compute integration tests need root: they create namespaces, run Ceph daemons and "
                    "QEMU inside the compute hosts' namespaces (run `make test` as root)")
    missing = missing_programs()
    if missing:
        pytest.skip(f"programs missing: {', '.join(missing)} (Debian: qemu-system-x86 qemu-block-extra "
                    "qemu-utils genisoimage cpio e2fsprogs ceph-common …)")
    try:
        import paramiko  # noqa: F401
    except ImportError:
        pytest.skip("paramiko is not installed: the tests log in to the VMs with it")


@pytest.fixture(scope="session")
def lab(tmp_path_factory) -> Iterator[VmLab]:
    require_environment()
    work = tmp_path_factory.mktemp("vmlab")
    lab = VmLab(PREFIX, work / "state", UNDERLAY_V4, UNDERLAY_V6)
    try:
        lab.up()
        yield lab
    finally:
        lab.close()
        assert lab.leftovers() == [], lab.leftovers()


@pytest.fixture(scope="session")
def nets(lab):
    """Two tenant networks, each with a bastion endpoint on the first compute host."""
    return lab.tenant_network("a", 1), lab.tenant_network("b", 2)
