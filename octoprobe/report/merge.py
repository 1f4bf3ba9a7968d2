"""One run's result from its suites' results (``octoprobe run`` runs each
suite as its own pytest session)."""

from __future__ import annotations

from dataclasses import replace
from typing import Mapping

from octoprobe.report.model import Environment, RunResult


def merge_results(run_id: str, parts: Mapping[str, RunResult], *, started: str, finished: str) -> RunResult:
    """``parts``: suite name → its result. Test ids are made to start with
    their suite's name (an installed suite's rootdir is the suite itself);
    gates keep their names, prefixed with the suite when two suites judge a
    gate of the same name; the environment is the first suite's, with what
    the others add."""
    env = Environment()
    tests, gates = [], []
    gate_names = [g.name for part in parts.values() for g in part.gates]
    for index, (suite, part) in enumerate(parts.items()):
        if index == 0:
            env = replace(part.environment, versions=dict(part.environment.versions),
                          extra=dict(part.environment.extra), hardware=dict(part.environment.hardware))
        else:
            env.cloud = env.cloud or part.environment.cloud
            for key, value in part.environment.versions.items():
                env.versions.setdefault(key, value)
            for key, value in part.environment.extra.items():
                env.extra.setdefault(key, value)
            for key, value in part.environment.hardware.items():
                env.hardware.setdefault(key, value)
        for test in part.tests:
            nodeid = test.nodeid if test.nodeid.startswith(f"{suite}/") else f"{suite}/{test.nodeid}"
            tests.append(replace(test, nodeid=nodeid))
        for gate in part.gates:
            name = gate.name if gate_names.count(gate.name) == 1 else f"{suite}: {gate.name}"
            gates.append(replace(gate, name=name))
    env.extra["suites"] = ", ".join(parts)
    return RunResult(run_id=run_id, started=started, finished=finished, environment=env, tests=tests, gates=gates)
