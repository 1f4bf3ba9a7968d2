"""The perf suite's options and fixtures.

    pytest perf/ --cloud NAME [--admin-cloud NAME] [--profile reference] [--perf-* ...]

Every measurement becomes samples (``samples`` fixture, see
:mod:`octoprobe.samples`); a gate profile (``--profile``) judges them at the
end of the session. Servers are booted from ``--perf-image`` (an image with
fio and iperf3 whose user logs in with the keypair; the reference cloud
ships ``octoprobe-perf``) and reached at their IPv6 address, else IPv4
(``--perf-address``), from the machine running the suite. Everything is
run-tagged and deleted when its fixture ends.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from octoprobe.ceph.client import CephClient
from octoprobe.ceph.rbd import RbdClient
from octoprobe.perf.cloud import PerfCloud, PerfError, PerfSettings
from octoprobe.resources import ResourceRegistry
from octoprobe.shell import LocalRunner

DEFAULT_STATE_DIR = Path("~/.local/state/octoprobe/cloud")
CEPH_TIMEOUT = 120.0


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("octoprobe-perf", "octoprobe perf suite")
    add = group.addoption
    add("--perf-image", metavar="NAME", help="image the measured servers boot (default: the cloud's octoprobe-perf)")
    add("--perf-flavor", metavar="NAME", help="flavor (default: the smallest that fits the image)")
    add("--perf-network", metavar="NAME", help="tenant network (default: the project's network with subnets)")
    add("--perf-ssh-user", default="root", metavar="USER", help="the image's login user (default: %(default)s)")
    add("--perf-address", default="auto", choices=("auto", "ipv4", "ipv6"),
        help="which fixed address the prober reaches servers at (default: auto, IPv6 first)")
    add("--perf-repetitions", type=int, default=3, metavar="N", help="boots measured one after another (default: 3)")
    add("--perf-concurrency", type=int, default=3, metavar="N", help="boots measured at once (default: 3)")
    add("--perf-boot-timeout", type=float, default=300.0, metavar="SECONDS",
        help="a boot's deadline from the API call (default: %(default)g)")
    add("--perf-duration", type=float, default=10.0, metavar="SECONDS",
        help="length of each fio job and iperf3 run (default: %(default)g)")
    add("--perf-ramp", type=float, default=2.0, metavar="SECONDS",
        help="fio ramp time and iperf3 omitted seconds, not counted (default: %(default)g)")
    add("--perf-streams", type=int, default=4, metavar="N", help="parallel iperf3 streams (default: 4)")
    add("--perf-fio-size", default="256M", metavar="SIZE", help="fio's working set per job (default: %(default)s)")
    add("--perf-volume-size", type=int, default=1, metavar="GiB", help="volume size for fio in a VM (default: 1)")
    add("--ceph-conf", metavar="FILE",
        help="ceph.conf (with a keyring) for fio's rbd engine and the clone check (default: $CEPH_CONF, "
             "else the reference cloud's)")
    add("--ceph-user", default="admin", metavar="NAME", help="Ceph client name (default: %(default)s)")
    add("--perf-rbd-pool", default="volumes", metavar="POOL",
        help="pool for the fio rbd test image (default: %(default)s)")
    add("--perf-vm-pool", default="vms", metavar="POOL", help="pool of the servers' root disks (default: %(default)s)")
    add("--link-speed", type=float, default=10e9, metavar="BIT/S",
        help="the network's link speed for the theoretical maximum (default: 10e9, 10 GbE)")
    add("--disk-throughput", type=float, metavar="BYTES/S",
        help="sequential throughput of one OSD disk; with --inventory (its OSDs) the RBD figures get their "
             "efficiency against disks x this / replication, capped by --link-speed")


def pytest_configure(config: pytest.Config) -> None:
    opt = config.option
    for name in ("perf_repetitions", "perf_concurrency", "perf_streams", "perf_volume_size"):
        if getattr(opt, name, 1) < 1:
            raise pytest.UsageError(f"--{name.replace('_', '-')} must be at least 1")
    if getattr(opt, "perf_duration", 1) <= 0:
        raise pytest.UsageError("--perf-duration must be positive")


def ceph_conf(config: pytest.Config) -> Path | None:
    """The ceph.conf to use, or None: --ceph-conf, $CEPH_CONF, the reference cloud's."""
    given = config.option.ceph_conf or os.environ.get("CEPH_CONF")
    if given:
        path = Path(given).expanduser()
        if not path.is_file():
            raise pytest.UsageError(f"--ceph-conf {given}: no such file")
        return path
    state = Path(os.environ.get("OCTOPROBE_STATE_DIR") or DEFAULT_STATE_DIR).expanduser()
    path = state / "ceph" / "ceph.conf"
    return path if path.is_file() else None


@pytest.fixture(scope="session")
def ceph_access(pytestconfig: pytest.Config) -> tuple[Path, str]:
    path = ceph_conf(pytestconfig)
    if path is None:
        pytest.skip("needs Ceph access: give --ceph-conf FILE (a ceph.conf whose keyring may write to "
                    "--perf-rbd-pool), or set $CEPH_CONF")
    return path, pytestconfig.option.ceph_user


@pytest.fixture(scope="session")
def rbd(ceph_access: tuple[Path, str]) -> RbdClient:
    """``rbd`` against the cluster of ``ceph_access`` (skips without one)."""
    conf, user = ceph_access
    return RbdClient(LocalRunner(), conf=str(conf), name=f"client.{user}", timeout=CEPH_TIMEOUT)


@pytest.fixture(scope="session")
def ceph(ceph_access: tuple[Path, str]) -> CephClient:
    """``ceph`` (read-only) against the cluster of ``ceph_access`` (skips without one)."""
    conf, user = ceph_access
    return CephClient(LocalRunner(), conf=str(conf), name=f"client.{user}", timeout=CEPH_TIMEOUT)


@pytest.fixture(scope="session")
def perf_settings(pytestconfig: pytest.Config) -> PerfSettings:
    opt = pytestconfig.option
    return PerfSettings(image=opt.perf_image, flavor=opt.perf_flavor, network=opt.perf_network,
                        ssh_user=opt.perf_ssh_user, address=opt.perf_address, boot_timeout=opt.perf_boot_timeout)


@pytest.fixture(scope="session")
def perf_cloud(conn: Any, run: Any, session_resources: ResourceRegistry, perf_settings: PerfSettings) -> PerfCloud:
    """Image, flavor, network, a keypair and a security group for the measured servers."""
    try:
        return PerfCloud(conn, run, session_resources, perf_settings)
    except PerfError as exc:
        pytest.fail(str(exc), pytrace=False)


@pytest.fixture
def perf_phase(request: pytest.FixtureRequest):
    """``perf_phase("boot 2/3")`` names what a long test is doing in `octoprobe run`'s progress."""
    from octoprobe.progress import phase

    return lambda name: phase(request.config, name)
