"""A real reference cloud for the integration tests, brought up once per run.

It runs beside any cloud of the user's: its own state directory (a temporary
one), its own prefix for kernel objects, its own underlay range. It is
brought down and purged at the end whatever happened.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from octoprobe.ceph import CephClient, RbdClient
from octoprobe.reference_impl.topology import Topology, default_topology_path, load_topology
from octoprobe.shell import LocalRunner

PREFIX = "octt"
UNDERLAY = {"ipv4": "198.18.9.0/24", "ipv6": "fd6f:6374:6f09::/64", "mtu": 1500}
REQUIRED_PROGRAMS = ("ip", "ceph", "ceph-mon", "ceph-mgr", "ceph-osd", "ceph-authtool",
                     "monmaptool", "rados", "rbd")
CLI_TIMEOUT = 600


@dataclass
class RefCloud:
    state_dir: Path
    prefix: str
    topology_file: Path
    topology: Topology

    @property
    def env(self) -> dict[str, str]:
        return {**os.environ, "OCTOPROBE_STATE_DIR": str(self.state_dir), "OCTOPROBE_PREFIX": self.prefix}

    @property
    def conf(self) -> str:
        return str(self.state_dir / "ceph" / "ceph.conf")

    def cli(self, *args: str, check: bool = True, timeout: float = CLI_TIMEOUT) -> subprocess.CompletedProcess:
        proc = subprocess.run([sys.executable, "-m", "octoprobe.cli", "cloud", *args], env=self.env,
                              capture_output=True, text=True, timeout=timeout)
        sys.stdout.write(proc.stdout)
        sys.stderr.write(proc.stderr)
        if check and proc.returncode != 0:
            raise AssertionError(f"octoprobe cloud {' '.join(args)} exited {proc.returncode}:\n"
                                 f"{proc.stdout}\n{proc.stderr}")
        return proc

    def client(self) -> CephClient:
        return CephClient(LocalRunner(), conf=self.conf, timeout=30)

    def rbd(self) -> RbdClient:
        return RbdClient(LocalRunner(), conf=self.conf, timeout=60)

    def tool(self, *argv: str, timeout: float = 60, input: str | None = None) -> str:
        """Run a Ceph CLI tool (rados, rbd, ceph) against this cluster."""
        return LocalRunner().run([argv[0], "--conf", self.conf, *argv[1:]], timeout=timeout,
                                 input=input).stdout

    def pid_of(self, daemon: str) -> int:
        return int((self.state_dir / "run" / f"ceph-{daemon}.pid").read_text())


def require_environment() -> None:
    if os.geteuid() != 0:
        pytest.skip("integration tests need root: they create network namespaces and run Ceph "
                    "daemons (run `make test` as root)")
    missing = [p for p in REQUIRED_PROGRAMS if shutil.which(p) is None]
    if missing:
        pytest.fail(f"programs missing: {', '.join(missing)}; `make test` installs them with apt-get")


@pytest.fixture(scope="session")
def ref_cloud(tmp_path_factory) -> RefCloud:
    require_environment()
    work = tmp_path_factory.mktemp("refcloud")
    data = yaml.safe_load(default_topology_path().read_text())
    data["underlay"] = UNDERLAY
    topology_file = work / "topology.yaml"
    topology_file.write_text(yaml.safe_dump(data, sort_keys=False))
    cloud = RefCloud(work / "state", PREFIX, topology_file, load_topology(topology_file))
    cloud.cli("down", "--purge", check=False)  # a previous run killed hard
    try:
        cloud.cli("up", "--topology", str(topology_file))
        yield cloud
    finally:
        cloud.cli("down", "--purge", check=False)
