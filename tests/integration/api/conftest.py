"""The API tests' cloud: a small reference cloud (3 racks with a storage
host each, 2 compute hosts) with prefix ``octa`` and underlay 198.18.80.0/24,
brought up once per session with ``octoprobe cloud up`` — so the API
process, the seeded identity and the default networking are exactly what a
user gets. Its ``clouds.yaml`` is a temporary file. Everything is removed at
the end with ``cloud down --purge``."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from apilab import PREFIX, small_topology

TOPOLOGY = small_topology("198.18.80.0/24", "fd6f:6374:6f80::/64")
CLI_TIMEOUT = 600


class CliError(AssertionError):
    pass


@dataclass
class ApiCloud:
    work: Path
    state_dir: Path
    topology_file: Path
    clouds_yaml: Path

    @property
    def env(self) -> dict[str, str]:
        return {**os.environ, "OCTOPROBE_STATE_DIR": str(self.state_dir), "OCTOPROBE_PREFIX": PREFIX,
                "OCTOPROBE_CLOUDS_YAML": str(self.clouds_yaml), "OS_CLIENT_CONFIG_FILE": str(self.clouds_yaml)}

    def cloud_cli(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        proc = subprocess.run([sys.executable, "-m", "octoprobe.cli", "cloud", *args], env=self.env,
                              capture_output=True, text=True, timeout=CLI_TIMEOUT)
        sys.stdout.write(proc.stdout)
        sys.stderr.write(proc.stderr)
        if check and proc.returncode != 0:
            raise CliError(f"octoprobe cloud {' '.join(args)} exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}")
        return proc

    def openstack(self, *args: str, cloud: str = "octoprobe", check: bool = True, json_out: bool = True,
                  timeout: float = 300) -> Any:
        """Run python-openstackclient, unchanged, against the reference cloud."""
        argv = [str(Path(sys.executable).parent / "openstack"), "--os-cloud", cloud, *args]
        if json_out:
            argv += ["-f", "json"]
        proc = subprocess.run(argv, env=self.env, capture_output=True, text=True, timeout=timeout)
        if check and proc.returncode != 0:
            raise CliError(f"openstack {' '.join(args)} exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}")
        if not check:
            return proc
        return json.loads(proc.stdout) if json_out and proc.stdout.strip() else proc.stdout

    def connection(self, cloud: str = "octoprobe"):
        """An openstacksdk connection from our clouds.yaml (and no other file)."""
        from openstack.config import OpenStackConfig
        from openstack.connection import Connection
        config = OpenStackConfig(config_files=[str(self.clouds_yaml)], vendor_files=[])
        return Connection(config=config.get_one(cloud=cloud, api_timeout=60))

    @property
    def base_url(self) -> str:
        clouds = yaml.safe_load(self.clouds_yaml.read_text())["clouds"]
        return clouds["octoprobe"]["auth"]["auth_url"].rsplit("/identity", 1)[0]


def require_environment() -> None:
    if os.geteuid() != 0:
        pytest.skip("API integration tests need root: they bring up a reference cloud (run `make test` as root)")
    missing = [p for p in ("ip", "ceph", "rbd", "qemu-system-x86_64", "dnsmasq", "nft") if shutil.which(p) is None]
    if missing:
        pytest.fail(f"programs missing: {', '.join(missing)}; `make test` installs them with apt-get")
    if shutil.which("openstack", path=str(Path(sys.executable).parent)) is None:
        pytest.fail("python-openstackclient is not installed in this environment (`pip install -e .[test]`)")


@pytest.fixture(scope="session")
def api_cloud(tmp_path_factory) -> ApiCloud:
    require_environment()
    work = tmp_path_factory.mktemp("apicloud")
    topology_file = work / "topology.yaml"
    topology_file.write_text(yaml.safe_dump(TOPOLOGY, sort_keys=False))
    cloud = ApiCloud(work, work / "state", topology_file, work / "clouds.yaml")
    cloud.cloud_cli("down", "--purge", check=False)
    try:
        cloud.cloud_cli("up", "--topology", str(topology_file))
        yield cloud
    finally:
        cloud.cloud_cli("down", "--purge", check=False)


# -- lines a test wants in the run's terminal summary (e.g. the Tempest counts) ----------------
SUMMARY = pytest.StashKey[list]()


@pytest.fixture
def terminal_summary(request) -> list:
    """Append lines to print at the end of the run, whether or not output is captured."""
    return request.config.stash.setdefault(SUMMARY, [])


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:
    lines = config.stash.get(SUMMARY, [])
    if lines:
        terminalreporter.section("reference cloud: peer test suites")
        for line in lines:
            terminalreporter.write_line(line)
