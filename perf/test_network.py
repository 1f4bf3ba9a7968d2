"""Network throughput with iperf3: VM ↔ VM on one host and across hosts
(through the tenant overlay), north-south from the machine running the suite
to a VM's floating IP, and node ↔ node on the underlay with a lab inventory.

Goodput is the receiver's sum; each path also gets its efficiency, measured
over the theoretical maximum TCP goodput of the link (``--link-speed``, the
tenant network's MTU, VXLAN encapsulation). Placement uses Nova's
``same_host`` / ``different_host`` scheduler hints and is checked with each
server's ``hostId``: a cloud that ignores them skips the path it could not
place, saying so.
"""

from __future__ import annotations

import ipaddress
from typing import Any

import pytest

from octoprobe.perf.boot import measure_boot, measure_boots
from octoprobe.perf.cloud import IPERF_PORT, addresses
from octoprobe.perf.iperf3 import client_argv, iperf3_samples, run_iperf3, server_argv
from octoprobe.perf.theory import max_tcp_goodput
from octoprobe.perf.tools import ToolMissing, from_shell_runner, local_runner

HINT_REASON = "the cloud placed the {what} server elsewhere than asked (scheduler hint {hint} ignored?)"


def _fixed_v4(server: Any) -> str:
    v4 = [a for a in addresses(server, "fixed") if ipaddress.ip_address(a).version == 4]
    assert v4, f"server {server.id} has no fixed IPv4 address"
    return v4[0]


@pytest.fixture(scope="module")
def trio(perf_cloud, module_resources, pytestconfig):
    """Server ``a`` runs the iperf3 server; ``cross`` is on another host, ``same`` on a's host."""
    cloud = perf_cloud.using(module_resources)
    timeout = pytestconfig.option.perf_boot_timeout
    a = measure_boot(cloud.boot("iperf-a"), timeout=timeout)
    hints = ({"different_host": [a.server_id]}, {"same_host": [a.server_id]})
    others = measure_boots(lambda i: cloud.boot(("iperf-cross", "iperf-same")[i], hints=hints[i]), 2,
                           timeout=timeout)
    servers = {name: cloud.server(t.server_id) for name, t in zip(("a", "cross", "same"), (a, *others))}
    shells = {name: cloud.shell(server) for name, server in servers.items()}
    code, out, err = shells["a"](server_argv(port=IPERF_PORT, one_off=False, daemon=True), 30)
    if code == 127:
        pytest.skip(str(ToolMissing("iperf3", f"image {perf_cloud.image.name}")))
    assert code == 0, f"iperf3 server in server {servers['a'].id}: exit {code}: {err.strip()}"
    yield cloud, servers, shells
    for shell in shells.values():
        shell.close()


def _theoretical(perf_cloud, pytestconfig) -> float:
    mtu = perf_cloud.network.mtu or 1450
    return max_tcp_goodput(pytestconfig.option.link_speed, mtu=mtu, encapsulation="vxlan")


def _measure(runner, target: str, pytestconfig, where: str):
    opt = pytestconfig.option
    argv = client_argv(target, duration=opt.perf_duration, omit=opt.perf_ramp, streams=opt.perf_streams,
                       port=IPERF_PORT, ipv6=":" in target)
    return run_iperf3(runner, argv, opt.perf_duration + opt.perf_ramp + 60, where=where)


def _path(trio, name: str, hint: str, want_same: bool, samples, pytestconfig, perf_cloud, path: str) -> None:
    cloud, servers, shells = trio
    a, other = servers["a"], servers[name]
    if (a.host_id == other.host_id) != want_same:
        pytest.skip(HINT_REASON.format(what=name, hint=hint))
    bound = _theoretical(perf_cloud, pytestconfig)
    result = _measure(shells[name], _fixed_v4(a), pytestconfig, f"server {other.id}")
    samples.extend(iperf3_samples(result, path, bound, mtu=perf_cloud.network.mtu,
                                  link_bps=pytestconfig.option.link_speed, image=perf_cloud.image.name,
                                  flavor=perf_cloud.flavor.name))
    assert result.goodput_bps > 0, f"iperf3 {path}: no data received"
    print(f"iperf3 {path}: {result.goodput_bps / 1e6:.0f} Mbit/s ({result.goodput_bps / bound:.1%} of the "
          f"{bound / 1e9:.2f} Gbit/s a {pytestconfig.option.link_speed / 1e9:g} Gbit/s link allows), "
          f"retransmits {result.retransmits}")


@pytest.mark.gate("cross_host_goodput")
def test_iperf3_across_hosts(trio, samples, pytestconfig, perf_cloud):
    _path(trio, "cross", "different_host", False, samples, pytestconfig, perf_cloud, "cross_host")


def test_iperf3_same_host(trio, samples, pytestconfig, perf_cloud):
    _path(trio, "same", "same_host", True, samples, pytestconfig, perf_cloud, "same_host")


def test_iperf3_through_floating_ip(trio, samples, pytestconfig, perf_cloud):
    """North-south: the machine running the suite to server a's floating IP."""
    cloud, servers, _ = trio
    fip = cloud.floating_ip(servers["a"])
    bound = _theoretical(perf_cloud, pytestconfig)
    try:
        result = _measure(local_runner, fip, pytestconfig, "this machine")
    except ToolMissing as exc:
        pytest.skip(str(exc))
    samples.extend(iperf3_samples(result, "floating_ip", bound, image=perf_cloud.image.name))
    assert result.goodput_bps > 0
    print(f"iperf3 floating_ip: {result.goodput_bps / 1e6:.0f} Mbit/s")


def test_iperf3_underlay(inventory, samples, pytestconfig):
    """Node ↔ node on the lab's own network (no overlay): the yardstick of the others."""
    from octoprobe.remote import SshRunner

    nodes = inventory.nodes()
    if len(nodes) < 2:
        pytest.skip("the underlay path needs two nodes in the inventory")
    server_node, client_node = nodes[0], nodes[1]
    server, client = (from_shell_runner(SshRunner(n.ssh.host, user=n.ssh.user, port=n.ssh.port,
                                                  key_file=n.ssh.key_file)) for n in (server_node, client_node))
    code, _, err = server(server_argv(port=IPERF_PORT, one_off=True, daemon=True), 30)
    if code == 127:
        pytest.skip(str(ToolMissing("iperf3", server_node.name)))
    assert code == 0, f"iperf3 server on {server_node.name}: {err.strip()}"
    result = _measure(client, server_node.ssh.host, pytestconfig, client_node.name)
    bound = max_tcp_goodput(pytestconfig.option.link_speed, mtu=1500)
    samples.extend(iperf3_samples(result, "underlay", bound, server=server_node.name, client=client_node.name))
    assert result.goodput_bps > 0
