"""pytest-xdist with octoprobe's plugin: ``-n N`` schedules by scope, so the
tests that share a module- or class-scoped resource run on one worker (the
resource is made once), and modules spread over the workers; ``-n auto``
starts 4 to 8 workers whatever the CPUs (the tests wait on the cloud)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

from octoprobe.plugin import auto_workers, machine_cpus

SHARED = textwrap.dedent('''
    import json, os, pathlib, pytest

    @pytest.fixture(scope="module")
    def server():
        return "booted once"

    @pytest.mark.parametrize("i", range(6))
    def test_uses_the_module_resource(server, i):
        pathlib.Path(os.environ["LOG"]).open("a").write(json.dumps(
            {"group": "module", "worker": os.environ["PYTEST_XDIST_WORKER"]}) + "\\n")

    class TestClassResource:
        @pytest.fixture(scope="class")
        def volume(self):
            return "made once"

        @pytest.mark.parametrize("i", range(4))
        def test_uses_the_class_resource(self, volume, i):
            pathlib.Path(os.environ["LOG"]).open("a").write(json.dumps(
                {"group": "class", "worker": os.environ["PYTEST_XDIST_WORKER"]}) + "\\n")
''')
FREE = textwrap.dedent('''
    import json, os, pathlib, time, pytest

    @pytest.mark.parametrize("i", range(3))
    def test_free(i):
        time.sleep(0.2)
        pathlib.Path(os.environ["LOG"]).open("a").write(json.dumps(
            {"group": "free", "worker": os.environ["PYTEST_XDIST_WORKER"]}) + "\\n")
''')


def test_tests_sharing_a_module_or_class_resource_run_on_one_worker(tmp_path: Path):
    (tmp_path / "test_shared.py").write_text(SHARED)
    for name in ("a", "b", "c", "d"):
        (tmp_path / f"test_free_{name}.py").write_text(FREE)
    log = tmp_path / "log.jsonl"
    proc = subprocess.run([sys.executable, "-m", "pytest", "-n", "3", "-q", "-p", "no:cacheprovider", str(tmp_path)],
                          cwd=tmp_path, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "LOG": str(log)})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    rows = [json.loads(line) for line in log.read_text().splitlines()]
    workers = {g: {r["worker"] for r in rows if r["group"] == g} for g in ("module", "class", "free")}
    assert len([r for r in rows if r["group"] == "module"]) == 6
    assert len(workers["module"]) == 1, workers
    assert len(workers["class"]) == 1, workers
    assert len(workers["free"]) > 1, f"modules should spread over the workers: {workers}"


def test_auto_workers_are_the_cpus_between_4_and_8():
    assert [auto_workers(n) for n in (None, 1, 2, 4, 6, 8, 64)] == [4, 4, 4, 4, 6, 8, 8]


def test_n_auto_starts_the_plugins_number_of_workers_unless_the_environment_names_one(tmp_path: Path):
    (tmp_path / "test_workers.py").write_text(textwrap.dedent('''
        import os

        def test_count():
            print("WORKERS", os.environ["PYTEST_XDIST_WORKER_COUNT"])
            assert False  # so the output is shown
    '''))
    env = {k: v for k, v in os.environ.items() if k != "PYTEST_XDIST_AUTO_NUM_WORKERS"}
    counts = []
    for extra in ({}, {"PYTEST_XDIST_AUTO_NUM_WORKERS": "3"}):
        proc = subprocess.run([sys.executable, "-m", "pytest", "-n", "auto", "-q", "-p", "no:cacheprovider",
                               str(tmp_path)], cwd=tmp_path, capture_output=True, text=True, timeout=300,
                              env={**env, **extra})
        counts.append(next(line.split()[1] for line in proc.stdout.splitlines() if line.startswith("WORKERS")))
    assert counts == [str(auto_workers(machine_cpus())), "3"]
