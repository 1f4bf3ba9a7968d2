"""What the figures were measured on: each lab node's hardware (CPU model and
cores, RAM, disks with model and size, NICs with speed, driver and firmware,
BIOS), collected over SSH with an inventory — else the machine running the
suite, which is the hardware of the bundled reference cloud. It goes into the
run's environment, so a qualification report says what was measured on what.
"""

from __future__ import annotations

import socket

from octoprobe.perf.hardware import collect_hardware
from octoprobe.perf.tools import from_shell_runner, local_runner

ENVIRONMENT = "octoprobe.environment"
TIMEOUT = 30.0


def _check(node: str, inventory: dict) -> None:
    cpu = inventory.get("cpu") or {}
    assert cpu, f"{node}: no CPU facts (lscpu): {inventory.get('errors')}"
    assert inventory.get("memory"), f"{node}: no memory facts (/proc/meminfo): {inventory.get('errors')}"


def test_hardware_inventory(request, record_property):
    if request.config.option.octoprobe_inventory:
        from octoprobe.remote import SshRunner

        lab = request.getfixturevalue("inventory")
        nodes = {n.name: from_shell_runner(SshRunner(n.ssh.host, user=n.ssh.user, port=n.ssh.port,
                                                     key_file=n.ssh.key_file)) for n in lab.nodes()}
    else:
        nodes = {f"{socket.gethostname()} (this machine)": local_runner}
    found = {}
    for name, runner in nodes.items():
        found[name] = collect_hardware(runner, timeout=TIMEOUT)
        _check(name, found[name])
        missing = found[name].get("missing") or []
        print(f"{name}: {found[name]['cpu'].get('model', '?')}, "
              f"{(found[name]['memory'].get('total_bytes') or 0) / 2**30:.1f} GiB"
              + (f"; not available: {', '.join(missing)}" if missing else ""))
    record_property(ENVIRONMENT, {"hardware": found})
