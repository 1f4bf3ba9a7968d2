#!/usr/bin/env python3
"""Benchmark the reference cloud's tenant networks on this machine.

Measures, in one run:
  * TCP throughput (iperf3) between two namespaces on different compute hosts
    through the VXLAN overlay, and between the same two hosts over the plain
    underlay; the ratio overlay / underlay (rounds alternate, medians reported);
  * the time to create a network + subnet + router (with its gateway and an
    interface on the subnet) + port bound to a compute host;
  * the time to apply a security-group change (one rule added, or removed) to
    50 ports spread over two compute hosts.

It brings up its own small underlay (prefix ``octm``, 198.18.21.0/24, external
network 198.18.64.0/24), so it runs beside any cloud, and removes everything
at the end. Needs root, iperf3, dnsmasq, nft and busybox.

    sudo .venv/bin/python bench/network_overlay.py [--seconds 5] [--rounds 3] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from octoprobe.reference_impl.network import NetworkPlane, TestEndpoint, leftovers, teardown_all
from octoprobe.reference_impl.topology import parse_topology
from octoprobe.reference_impl.underlay import Underlay

PREFIX = "octm"
TOPOLOGY = """
underlay: {ipv4: 198.18.21.0/24, ipv6: "fd6f:6374:6f21::/64", mtu: 1500}
ceph: {pool_size: 1, pool_min_size: 1}
control: {name: ctl}
racks:
  - name: ra
    hosts:
      - {name: ca, roles: [compute, storage], osds: {count: 1, size: 2GiB}}
  - name: rb
    hosts:
      - {name: cb, roles: [compute]}
"""
EXTERNAL_V4 = "198.18.64.0/24"
IPERF_PORT = 5201
SG_PORTS = 50


def log(message: str) -> None:
    print(f"# {message}", file=sys.stderr, flush=True)


def parse_iperf3(document: dict) -> float:
    """Received bits per second of an ``iperf3 -c … -J`` run (TCP)."""
    if "error" in document:
        raise RuntimeError(f"iperf3: {document['error']}")
    return float(document["end"]["sum_received"]["bits_per_second"])


def iperf3(server_ns: str, client_ns: str, address: str, seconds: int) -> float:
    server = subprocess.Popen(["ip", "netns", "exec", server_ns, "iperf3", "-s", "-1", "-B", address,
                               "-p", str(IPERF_PORT)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 10
        while True:
            proc = subprocess.run(["ip", "netns", "exec", client_ns, "iperf3", "-c", address, "-p", str(IPERF_PORT),
                                   "-t", str(seconds), "-J"], capture_output=True, text=True, timeout=seconds + 30)
            document = json.loads(proc.stdout or "{}")
            if "error" in document and "refused" in document["error"] and time.monotonic() < deadline:
                time.sleep(0.1)
                continue
            return parse_iperf3(document)
    finally:
        if server.poll() is None:
            server.kill()
        server.wait()


def timed(call, *args, **kw):
    started = time.perf_counter()
    result = call(*args, **kw)
    return time.perf_counter() - started, result


def summary(values: list[float]) -> dict:
    return {"median": statistics.median(values), "min": min(values), "max": max(values), "n": len(values)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=int, default=5, help="length of each iperf3 run (default 5)")
    parser.add_argument("--rounds", type=int, default=3, help="overlay/underlay rounds (default 3)")
    parser.add_argument("--repeat", type=int, default=5, help="repetitions of the timing measurements (default 5)")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("needs root: it builds namespaces, bridges and VXLAN devices")

    topology = parse_topology(TOPOLOGY, "bench-network.yaml")
    state_dir = Path(tempfile.mkdtemp(prefix="octoprobe-bench-net-"))
    underlay = Underlay(topology, PREFIX)
    results: dict = {"underlay_mtu": topology.underlay.mtu}
    teardown_all(PREFIX, state_dir=state_dir, purge=True)
    underlay.down()
    try:
        underlay.up()
        plane = NetworkPlane(topology, PREFIX, state_dir)
        ext = plane.create_network("public", external=True)
        plane.create_subnet(ext.id, EXTERNAL_V4, enable_dhcp=False)

        # -- throughput -----------------------------------------------------------------
        group = plane.create_security_group("iperf")
        plane.create_security_group_rule(group.id, "ingress", protocol="tcp", port_range_min=IPERF_PORT)
        net = plane.create_network("bench")
        plane.create_subnet(net.id, "10.99.0.0/24")
        vms = []
        for host in ("ca", "cb"):
            port = plane.create_port(net.id, security_groups=[group.id], binding_host=host, binding_kind="endpoint")
            vms.append(TestEndpoint(plane, port.id))
        for vm in vms:
            vm.dhcp()
        underlay_b = str(topology.address_of("cb")[0].ip)
        overlay, plain = [], []
        for round_ in range(args.rounds):
            overlay.append(iperf3(vms[1].netns, vms[0].netns, vms[1].ipv4, args.seconds))
            plain.append(iperf3(underlay.netns("cb"), underlay.netns("ca"), underlay_b, args.seconds))
            log(f"round {round_ + 1}: overlay {overlay[-1] / 1e9:.2f} Gbit/s, underlay {plain[-1] / 1e9:.2f} Gbit/s")
        ratios = [o / u for o, u in zip(overlay, plain)]
        results["iperf3"] = {
            "seconds_per_run": args.seconds,
            "overlay_gbps": summary([v / 1e9 for v in overlay]),
            "underlay_gbps": summary([v / 1e9 for v in plain]),
            "ratio_overlay_over_underlay": summary(ratios),
            "overlay_mtu": net.mtu,
        }
        for vm in vms:
            plane.delete_port(vm.port_id)
        plane.delete_network(net.id)

        # -- network + subnet + router + port ------------------------------------------------
        created = []
        for i in range(args.repeat):
            started = time.perf_counter()
            n = plane.create_network(f"t{i}")
            s = plane.create_subnet(n.id, f"10.{100 + i}.0.0/24")
            r = plane.create_router(f"r{i}", external_network_id=ext.id)
            plane.add_router_interface(r.id, subnet_id=s.id)
            p = plane.create_port(n.id, security_groups=[group.id], binding_host="ca")
            created.append(time.perf_counter() - started)
            log(f"network+subnet+router+port #{i + 1}: {created[-1] * 1000:.0f} ms")
            plane.delete_port(p.id)
            plane.remove_router_interface(r.id, subnet_id=s.id)
            plane.delete_router(r.id)
            plane.delete_network(n.id)
        results["create_network_subnet_router_port_s"] = summary(created)

        # -- a security-group change on 50 ports ---------------------------------------------
        net = plane.create_network("many")
        plane.create_subnet(net.id, "10.98.0.0/24")
        started = time.perf_counter()
        ports = [plane.create_port(net.id, security_groups=[group.id], binding_host=("ca", "cb")[i % 2])
                 for i in range(SG_PORTS)]
        results["create_50_ports_s"] = time.perf_counter() - started
        add, remove = [], []
        for i in range(args.repeat):
            t, rule = timed(plane.create_security_group_rule, group.id, "ingress", protocol="tcp",
                            port_range_min=9000 + i, remote_ip_prefix="192.0.2.0/24")
            add.append(t)
            for host in ("ca", "cb"):  # really there, on both hosts
                chains = plane.kernel.exec(underlay.netns(host), ["nft", "list", "table", "inet", "sg_filter"]).stdout
                assert f"tcp dport {9000 + i} accept" in chains
            t, _ = timed(plane.delete_security_group_rule, rule.id)
            remove.append(t)
            log(f"security-group change on {SG_PORTS} ports #{i + 1}: add {add[-1] * 1000:.0f} ms, "
                f"remove {remove[-1] * 1000:.0f} ms")
        results["sg_rule_add_50_ports_s"] = summary(add)
        results["sg_rule_remove_50_ports_s"] = summary(remove)
        for port in ports:
            plane.delete_port(port.id)
        plane.delete_network(net.id)
        plane.delete_security_group(group.id)
        plane.delete_network(ext.id)
    finally:
        teardown_all(PREFIX, state_dir=state_dir, purge=True)
        underlay.down()
        shutil.rmtree(state_dir, ignore_errors=True)
        left = leftovers(PREFIX)
        if left:
            log(f"LEFT BEHIND: {left}")

    ip = results["iperf3"]
    print(f"overlay / underlay TCP throughput: {ip['ratio_overlay_over_underlay']['median']:.2f} "
          f"(overlay {ip['overlay_gbps']['median']:.2f} Gbit/s, underlay {ip['underlay_gbps']['median']:.2f} "
          f"Gbit/s, median of {args.rounds} x {args.seconds} s)")
    c = results["create_network_subnet_router_port_s"]
    print(f"network + subnet + router + port: {c['median'] * 1000:.0f} ms median "
          f"({c['min'] * 1000:.0f}-{c['max'] * 1000:.0f} ms, n={c['n']})")
    a, r = results["sg_rule_add_50_ports_s"], results["sg_rule_remove_50_ports_s"]
    print(f"security-group rule on {SG_PORTS} ports: add {a['median'] * 1000:.0f} ms, "
          f"remove {r['median'] * 1000:.0f} ms median (n={a['n']})")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
