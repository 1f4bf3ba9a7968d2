"""A reference cloud with VMs, for the compute integration tests and
``bench/compute_boot.py``.

A small topology (3 racks, each with 1 storage host and 1 compute host; pool
size 3), its own state directory, prefix and underlay range, brought up
in-process through :class:`Cloud`; the guest image imported; tenant networks
with a test endpoint on each as the SSH "bastion" (the tests' socket to a VM
is opened inside that namespace: the machine itself is not on the tenant
networks). :meth:`VmLab.close` stops every QEMU first, then brings the cloud
down with ``--purge``.
"""

from __future__ import annotations

import io
import shutil
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from octoprobe.reference_impl.cloud import Cloud
from octoprobe.reference_impl.compute import ComputeService, leftovers, teardown_all_vms
from octoprobe.reference_impl.compute.guest_ssh import GuestSSH, wait_for_ssh
from octoprobe.reference_impl.network import NetworkPlane, TestEndpoint

TOPOLOGY = {
    "ceph": {"pool_size": 3, "pool_min_size": 2, "pg_num": 16},
    "control": {"name": "ctl"},
    "racks": [
        {"name": f"r{i}", "hosts": [
            {"name": f"r{i}-s1", "roles": ["storage"], "osds": {"count": 1, "size": "4GiB"}},
            {"name": f"r{i}-c1", "roles": ["compute"]},
        ]} for i in (1, 2, 3)
    ],
}
REQUIRED_PROGRAMS = ("qemu-system-x86_64", "ceph", "rbd", "ip", "nft", "dnsmasq", "busybox", "genisoimage",
                     "mkfs.ext4", "debugfs", "cpio", "dpkg-deb", "apt-get")


def missing_programs() -> list[str]:
    return [p for p in REQUIRED_PROGRAMS if shutil.which(p) is None]


def new_keypair():
    """An Ed25519 key (cheap to verify under TCG) for paramiko, and its public line."""
    import paramiko
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH,
                            serialization.NoEncryption()).decode()
    public = key.public_key().public_bytes(serialization.Encoding.OpenSSH,
                                           serialization.PublicFormat.OpenSSH).decode()
    return paramiko.Ed25519Key.from_private_key(io.StringIO(pem)), f"{public} octoprobe-test"


@dataclass
class TenantNet:
    network_id: str
    v4_subnet: str
    v6_subnet: str
    group_id: str
    bastion: TestEndpoint


@dataclass
class VmLab:
    prefix: str
    state_dir: Path
    underlay_v4: str
    underlay_v6: str
    cloud: Cloud | None = None
    compute: ComputeService | None = None
    plane: NetworkPlane | None = None
    image_id: str = ""
    pkey: object = None
    public_key: str = ""
    nets: list = field(default_factory=list)
    log: list = field(default_factory=list)

    def progress(self, message: str) -> None:
        self.log.append(message)
        print(f"[vmlab] {message}", flush=True)

    # -- life cycle ----------------------------------------------------------------
    def up(self) -> "VmLab":
        self.state_dir.mkdir(parents=True, exist_ok=True)
        data = dict(TOPOLOGY, underlay={"ipv4": self.underlay_v4, "ipv6": self.underlay_v6, "mtu": 1500})
        topo_file = self.state_dir.parent / f"{self.prefix}-topology.yaml"
        topo_file.write_text(yaml.safe_dump(data, sort_keys=False))
        self.close()  # whatever a killed run left
        self.cloud = Cloud.open(self.state_dir, self.prefix, topo_file, progress=self.progress)
        self.cloud.up()
        self.plane = self.cloud.network()
        self.compute = ComputeService(self.cloud.topology, self.prefix, self.state_dir, network=self.plane,
                                      progress=self.progress)
        self.image_id = self.compute.ensure_guest_image().id
        self.pkey, self.public_key = new_keypair()
        return self

    def close(self) -> None:
        teardown_all_vms(self.prefix, self.state_dir, purge=True, progress=self.progress)
        topo = self.state_dir.parent / f"{self.prefix}-topology.yaml"
        cloud = self.cloud or (Cloud.open(self.state_dir, self.prefix, topo if topo.exists() else None,
                                          progress=self.progress)
                               if (self.state_dir / "instance.json").exists() else None)
        if cloud is not None:
            cloud.down(purge=True)
        self.cloud = None

    def leftovers(self) -> list[str]:
        return leftovers(self.state_dir)

    def compute_hosts(self) -> list[str]:
        return [h.name for h in self.cloud.topology.compute_hosts()]

    # -- networks ----------------------------------------------------------------
    def tenant_network(self, name: str, index: int, *, bastion_host: str | None = None) -> TenantNet:
        """A network with 10.{index}.0.0/24 and fd6f:6374:6fb{index}::/64, a
        security group allowing ICMP, SSH and iperf3 in, and a configured
        bastion endpoint."""
        plane = self.plane
        net = plane.create_network(name, project_id=f"tenant-{name}")
        v4 = plane.create_subnet(net.id, f"10.{index}.0.0/24")
        v6 = plane.create_subnet(net.id, f"fd6f:6374:6fb{index}::/64")
        group = plane.create_security_group(f"{name}-vms", project_id=f"tenant-{name}")
        for ethertype, proto in (("IPv4", "icmp"), ("IPv6", "ipv6-icmp")):
            plane.create_security_group_rule(group.id, "ingress", ethertype=ethertype, protocol=proto)
        for ethertype in ("IPv4", "IPv6"):
            for port in (22, 5201):
                plane.create_security_group_rule(group.id, "ingress", ethertype=ethertype, protocol="tcp",
                                                 port_range_min=port, port_range_max=port)
        host = bastion_host or self.compute_hosts()[0]
        port = plane.create_port(net.id, binding_host=host, binding_kind="endpoint", name=f"{name}-bastion",
                                 security_groups=[group.id])
        bastion = TestEndpoint(plane, port.id)
        bastion.configure()
        tn = TenantNet(net.id, v4.id, v6.id, group.id, bastion)
        self.nets.append(tn)
        return tn

    # -- VMs ------------------------------------------------------------------------
    def boot(self, name: str, net: TenantNet, *, flavor: str = "m1.nano", **kw):
        return self.compute.create_server(name, self.image_id, flavor, networks=[net.network_id],
                                          security_groups=[net.group_id], key_name="test",
                                          public_keys={"test": self.public_key}, **kw)

    def wait_ready(self, server_id: str, *, after: int = 0, timeout: float = 180.0) -> str:
        return self.compute.wait_for_console(server_id, after=after, timeout=timeout)

    def ssh(self, server_id: str, net: TenantNet, *, version: int = 4, timeout: float = 120.0,
            password: str | None = None) -> GuestSSH:
        view = self.compute.get_server(server_id)
        address = (view.ipv4 if version == 4 else view.ipv6)[0]
        return wait_for_ssh(address, None if password else self.pkey, netns=net.bastion.netns,
                            timeout=timeout, password=password)

    def boot_many(self, specs: list[tuple[str, TenantNet, dict]], *, timeout: float = 300.0) -> list:
        """Boot servers in parallel and wait until each is ready; their views."""
        def one(spec):
            name, net, kw = spec
            view = self.boot(name, net, **kw)
            self.wait_ready(view.id, timeout=timeout)
            return self.compute.get_server(view.id)

        with ThreadPoolExecutor(max_workers=len(specs)) as pool:
            return list(pool.map(one, specs))
