"""A reference cloud of its own for a chaos integration test: its own state
directory, prefix, underlay and clouds.yaml, brought up for a module and
purged at the end whatever happened. Used by test_chaos_suite.py (prefix
``octc``) and test_chaos_vm.py (``octw``)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Mapping, Sequence

import pytest
import yaml

from octoprobe.ceph import CephClient
from octoprobe.reference_impl.topology import default_topology_path
from octoprobe.shell import LocalRunner

CLI_TIMEOUT = 600


class ChaosCloud:
    def __init__(self, work: Path, prefix: str, underlay: Mapping[str, object]):
        self.work = work
        self.prefix = prefix
        self.state_dir = work / "state"
        self.clouds_yaml = work / "clouds.yaml"
        data = yaml.safe_load(default_topology_path().read_text())
        data["underlay"] = dict(underlay)
        self.topology_file = work / "topology.yaml"
        self.topology_file.write_text(yaml.safe_dump(data, sort_keys=False))
        self.env = {**os.environ, "OCTOPROBE_STATE_DIR": str(self.state_dir), "OCTOPROBE_PREFIX": prefix,
                    "OCTOPROBE_CLOUDS_YAML": str(self.clouds_yaml), "OS_CLIENT_CONFIG_FILE": str(self.clouds_yaml)}
        self.conf = str(self.state_dir / "ceph" / "ceph.conf")

    def cli(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        proc = subprocess.run([sys.executable, "-m", "octoprobe.cli", "cloud", *args], env=self.env,
                              capture_output=True, text=True, timeout=CLI_TIMEOUT)
        if check and proc.returncode != 0:
            raise AssertionError(f"octoprobe cloud {' '.join(args)} exited {proc.returncode}:\n"
                                 f"{proc.stdout}\n{proc.stderr}")
        return proc

    def status(self) -> dict:
        return json.loads(self.cli("status", "--json", check=False).stdout)

    def client(self) -> CephClient:
        return CephClient(LocalRunner(), conf=self.conf, timeout=30)

    def suite_argv(self, results: Path, *tests: str, extra: Sequence[str] = ()) -> list[str]:
        """``pytest`` of ``tests`` against this cloud, results as JSON in ``results``."""
        return [sys.executable, "-m", "pytest", *tests, "-p", "no:cacheprovider", "-q", "-rA",
                "--reference-state-dir", str(self.state_dir), "--reference-prefix", self.prefix,
                "--chaos-results", str(results), *extra]


@contextmanager
def chaos_cloud_up(work: Path, prefix: str, underlay: Mapping[str, object], programs: Sequence[str],
                   what: str) -> Iterator[ChaosCloud]:
    """The cloud, up; skipped without root, failed when ``programs`` are missing."""
    if os.geteuid() != 0:
        pytest.skip(f"{what} needs root: it runs a reference cloud (network namespaces, Ceph daemons) and "
                    "breaks it (run `make test` as root)")
    missing = [p for p in programs if shutil.which(p) is None]
    if missing:
        pytest.fail(f"programs missing: {', '.join(missing)}; `make test` installs them with apt-get")
    cloud = ChaosCloud(work, prefix, underlay)
    cloud.cli("down", "--purge", check=False)
    try:
        cloud.cli("up", "--topology", str(cloud.topology_file))
        yield cloud
    finally:
        cloud.cli("down", "--purge", check=False)
