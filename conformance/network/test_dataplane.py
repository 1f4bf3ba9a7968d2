"""The data plane behind the Network API, as DreamCompute promises it
(octoprobe's own capabilities):

* dreamcompute-server-addresses — a server booted on the project's network
  gets a private IPv4 and an IPv6 address of that network's subnets, the
  addresses Neutron gives its port (the guest configuring them is
  compute-servers-verify's, in ``compute/test_ssh.py``);
* dreamcompute-security-groups-filter — a security group rule opens a TCP
  port that was closed (over IPv6 and over a floating IPv4), deleting the
  rule closes it again;
* dreamcompute-floating-ip-reach — a floating IP associated with the server
  reaches it (an SSH login through it lands on that server), and no longer
  once disassociated;
* dreamcompute-tenant-isolation-l3 — another project's server on the same
  private IPv4 range, reachable from the machine running the suite, is
  unreachable from our server by its private IPv4 address (needs
  --alt-cloud).

Boots are few: one server of ours per module (two security groups: one
opening SSH, one empty that the filter test adds rules to), and one of the
other project's for the isolation test. The machine running the suite must
reach the projects' IPv6 networks (routed) and the floating IPv4 addresses
(tests skip, saying why, where the server has no IPv6 address or the user
sees no external network). The
guest listens on TCP 5201 (``iperf3 -s``, started over SSH) for the filter
test; ``$OCTOPROBE_COMPUTE_SSH_USER`` names the guest's user (default root).
"""

from __future__ import annotations

import ipaddress
import os
import socket
import time
from types import SimpleNamespace

import paramiko
import pytest

from octoprobe.remote import load_private_key

from octoprobe.resources import ResourceRegistry, run_id_of

from ..compute.nova import BUILD_TIMEOUT, Nova, addresses_of
from .neutron import Neutron

ADDRESSES = "dreamcompute-server-addresses"
FILTER = "dreamcompute-security-groups-filter"
FIP = "dreamcompute-floating-ip-reach"
ISOLATION = "dreamcompute-tenant-isolation-l3"
SSH_USER_ENV = "OCTOPROBE_COMPUTE_SSH_USER"
SSH_TIMEOUT = 180.0
PROBE_PORT = 5201
CLOSED_FOR = 3.0  # seconds a port must refuse connections to count as closed
CHANGE_TIMEOUT = 30.0  # seconds a rule change may take to reach the data plane


# ---------------------------------------------------------------- helpers


def _private_key(pem: str) -> paramiko.PKey:
    try:
        return load_private_key(pem)
    except ValueError:
        raise AssertionError("the private key the cloud generated cannot be read (not RSA, ECDSA or Ed25519 "
                             "PEM)") from None


def connects(address: str, port: int, timeout: float = 2.0) -> bool:
    """Whether a TCP connection to address:port is accepted within ``timeout``."""
    try:
        with socket.create_connection((address, port), timeout=timeout):
            return True
    except OSError:
        return False


def wait_open(address: str, port: int, what: str, timeout: float = CHANGE_TIMEOUT) -> float:
    """Seconds until address:port accepts a connection; fails after ``timeout``."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if connects(address, port):
            return time.monotonic() - start
        time.sleep(0.5)
    raise AssertionError(f"{what}: TCP {address} port {port} still refuses connections after {timeout:.0f} s")


def wait_closed(address: str, port: int, what: str, timeout: float = CHANGE_TIMEOUT) -> float:
    """Seconds until address:port stops accepting connections; fails after ``timeout``."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if not connects(address, port, timeout=CLOSED_FOR):
            return time.monotonic() - start
        time.sleep(0.5)
    raise AssertionError(f"{what}: TCP {address} port {port} still accepts connections after {timeout:.0f} s")


def ssh(address: str, pkey: paramiko.PKey, waiter, *, timeout: float = SSH_TIMEOUT) -> paramiko.SSHClient:
    """An SSH session to address (retried until ``timeout``: the guest may still boot)."""
    user = os.environ.get(SSH_USER_ENV, "root")
    errors: list[str] = []

    def attempt():
        client = paramiko.SSHClient()
        client.set_missing_host_key_policy(paramiko.AutoAddPolicy())  # a new guest: its host key is new
        try:
            client.connect(address, username=user, pkey=pkey, timeout=5, banner_timeout=10, auth_timeout=10,
                           allow_agent=False, look_for_keys=False)
            return client
        except (OSError, EOFError, socket.timeout, paramiko.SSHException) as exc:
            client.close()
            errors[:] = [f"{type(exc).__name__}: {exc}"]
            return None

    result = waiter.wait(f"SSH to {address} as {user}", attempt, ready=lambda s: s == "connected", timeout=timeout,
                         interval=2.0, state=lambda c: "connected" if c is not None else "refused",
                         fault=lambda c: errors[0] if errors else None)
    return result.value


def run(client: paramiko.SSHClient, command: str, *, check: bool = True) -> tuple[int, str]:
    _, stdout, stderr = client.exec_command(command, timeout=30)
    status = stdout.channel.recv_exit_status()
    out = stdout.read().decode(errors="replace")
    if check:
        assert status == 0, f"`{command}` in the guest exited {status}: {stderr.read().decode(errors='replace')[:300]}"
    return status, out.strip()


def guest_reaches(client: paramiko.SSHClient, address: str, port: int = 22) -> str:
    """What the guest gets connecting to address:port with busybox nc (an SSH banner, or nothing)."""
    _, out = run(client, f"nc -w 3 {address} {port} </dev/null 2>/dev/null | head -n 1 | head -c 80", check=False)
    return out


def _rule(neutron: Neutron, registry: ResourceRegistry, group_id: str, ethertype: str, port: int) -> dict:
    return neutron.create(registry, "security_group_rule", security_group_id=group_id, direction="ingress",
                          ethertype=ethertype, protocol="tcp", port_range_min=port, port_range_max=port)


def _project_network(neutron: Neutron) -> tuple[dict, list[dict]]:
    """The project's own network (not external, not made by an octoprobe run): the one servers boot on."""
    own = [n for n in neutron.list("network", project_id=neutron.project_id)
           if not n.get("router:external") and run_id_of("network", n) is None]
    if len(own) != 1:
        pytest.skip(f"the project has {len(own)} networks of its own ({[n['name'] for n in own]}); the data-plane "
                    "tests need exactly one (the network the cloud gives the project)")
    subnets = neutron.list("subnet", network_id=own[0]["id"])
    return own[0], subnets


# ---------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def nova(conn, schemas, run):
    return Nova(conn, schemas, run)


@pytest.fixture(scope="module")
def guest(nova, neutron, module_resources) -> SimpleNamespace:
    """Our server on the project's network, ACTIVE, with a generated keypair
    and two run-tagged security groups: ``ssh_group`` (TCP 22 from anywhere,
    IPv4 and IPv6) and ``filter_group`` (no ingress rule)."""
    network, subnets = _project_network(neutron)
    image = nova.pick_image()
    flavor = nova.pick_flavors(image)[0]
    keypair = nova.create_keypair(module_resources)
    ssh_group = neutron.create(module_resources, "security_group")
    for ethertype in ("IPv4", "IPv6"):
        _rule(neutron, module_resources, ssh_group["id"], ethertype, 22)
    filter_group = neutron.create(module_resources, "security_group")
    boot = nova.boot(module_resources, image["id"], flavor["id"], key_name=keypair["name"],
                     networks=[{"uuid": network["id"]}],
                     security_groups=[{"name": ssh_group["name"]}, {"name": filter_group["name"]}])
    ports = neutron.list("port", device_id=boot.id)
    assert len(ports) == 1, f"server {boot.id} has {len(ports)} ports in Neutron: {[p['id'] for p in ports]}"
    return SimpleNamespace(boot=boot, server=nova.show(boot.id), network=network, subnets=subnets, port=ports[0],
                 keypair=keypair, pkey=_private_key(keypair["private_key"]), ssh_group=ssh_group,
                 filter_group=filter_group, waiter=nova.waiter)


@pytest.fixture(scope="module")
def guest_ipv6(guest) -> str:
    found = addresses_of(guest.server, version=6)
    if not found:
        pytest.skip(f"server {guest.boot.id} has no IPv6 address to reach it by")
    return found[0]


@pytest.fixture(scope="module")
def floating_ip(neutron, guest, module_resources) -> dict:
    """A floating IP associated with our server's port (IPv4)."""
    external = neutron.external_networks()
    if not external:
        pytest.skip("the user sees no external network for floating IPs")
    v4 = [ip for ip in guest.port["fixed_ips"] if ipaddress.ip_address(ip["ip_address"]).version == 4]
    assert v4, f"the server's port has no IPv4 address: {guest.port['fixed_ips']}"
    fip = neutron.create(module_resources, "floatingip", floating_network_id=external[0]["id"],
                         port_id=guest.port["id"], fixed_ip_address=v4[0]["ip_address"])
    assert fip["port_id"] == guest.port["id"], f"the floating IP is associated with {fip['port_id']}"
    return fip


@pytest.fixture(scope="module")
def session(guest, guest_ipv6) -> paramiko.SSHClient:
    """An SSH session to our server over IPv6."""
    return ssh(guest_ipv6, guest.pkey, guest.waiter)


# ---------------------------------------------------------------- tests


@pytest.mark.capability(ADDRESSES, "4f73454d-d52f-437c-ab0d-954ccd45f978")
def test_server_gets_private_ipv4_and_ipv6(nova, neutron, guest):
    """The server has one fixed private IPv4 and one fixed IPv6 address, each
    in a subnet of the project's network, and they are its Neutron port's."""
    server = nova.show(guest.boot.id)
    fixed4 = addresses_of(server, version=4, kind="fixed")
    fixed6 = addresses_of(server, version=6, kind="fixed")
    assert len(fixed4) == 1 and len(fixed6) == 1, (
        f"server {guest.boot.id} has fixed IPv4 {fixed4} and IPv6 {fixed6}; one of each is promised")
    assert ipaddress.ip_address(fixed4[0]).is_private, f"the IPv4 address {fixed4[0]} is not private"
    by_version = {s["ip_version"]: ipaddress.ip_network(s["cidr"]) for s in guest.subnets}
    for address in fixed4 + fixed6:
        ip = ipaddress.ip_address(address)
        assert ip.version in by_version and ip in by_version[ip.version], (
            f"{address} is in no subnet of network {guest.network['name']}: {sorted(map(str, by_version.values()))}")
    port = neutron.show("port", guest.port["id"])
    port_ips = sorted(ip["ip_address"] for ip in port["fixed_ips"])
    assert port_ips == sorted(fixed4 + fixed6), f"Nova shows {fixed4 + fixed6}, the Neutron port has {port_ips}"
    assert port["network_id"] == guest.network["id"] and port["device_owner"].startswith("compute:")


@pytest.mark.capability(ADDRESSES, "5a893076-7390-4f64-b454-837d7b603b3d")
def test_slaac_address_follows_the_mac(neutron, guest):
    """On a SLAAC subnet the server's IPv6 address is the prefix and the
    modified EUI-64 of its port's MAC (what the guest configures itself)."""
    slaac = [s for s in guest.subnets if s["ip_version"] == 6 and s.get("ipv6_address_mode") == "slaac"]
    if not slaac:
        pytest.skip("the project's network has no SLAAC IPv6 subnet")
    port = neutron.show("port", guest.port["id"])
    mac = bytes.fromhex(port["mac_address"].replace(":", ""))
    eui = bytes([mac[0] ^ 0x02]) + mac[1:3] + b"\xff\xfe" + mac[3:]
    prefix = ipaddress.ip_network(slaac[0]["cidr"])
    expected = ipaddress.ip_address(int(prefix.network_address) | int.from_bytes(eui, "big"))
    got = [ipaddress.ip_address(a) for a in addresses_of(guest.server, version=6, kind="fixed")]
    assert expected in got, f"MAC {port['mac_address']} on {prefix} makes {expected}; the server has {got}"


@pytest.mark.capability(FILTER, "b311001c-232a-459f-98e2-4a7a0efcbd8e")
def test_rule_opens_a_closed_port_and_deleting_it_closes_it(neutron, guest, guest_ipv6, session, floating_ip,
                                                            resources):
    """A guest listening on TCP 5201 behind a group without a rule for it:
    closed over IPv6 and over the floating IPv4; rules for it (IPv6, IPv4)
    open it; deleting them closes it again. SSH (another group's rule) stays open."""
    run(session, f"(iperf3 -s -D -p {PROBE_PORT} || (nc -lk -p {PROBE_PORT} -e cat &)) >/dev/null 2>&1")
    _, listening = run(session, "netstat -ltn 2>/dev/null", check=False)
    assert f":{PROBE_PORT} " in listening, f"the guest does not listen on {PROBE_PORT}: {listening[:400]}"
    targets = {"IPv6": guest_ipv6, "IPv4": floating_ip["floating_ip_address"]}
    for ethertype, address in targets.items():
        assert not connects(address, PROBE_PORT, timeout=CLOSED_FOR), (
            f"TCP {PROBE_PORT} at {address} ({ethertype}) accepts connections before any rule opens it")
    rules = {e: _rule(neutron, resources, guest.filter_group["id"], e, PROBE_PORT) for e in targets}
    for ethertype, address in targets.items():
        wait_open(address, PROBE_PORT, f"after adding an {ethertype} rule for it")
    for ethertype, rule in rules.items():
        neutron.delete("security_group_rule", rule["id"])
    for ethertype, address in targets.items():
        wait_closed(address, PROBE_PORT, f"after deleting the {ethertype} rule for it")
    assert connects(guest_ipv6, 22), "SSH (opened by another group of the server) closed with the filter rules"


@pytest.mark.capability(FIP, "ea64558b-286d-4a8b-b80a-900478f5df91")
def test_floating_ip_reaches_the_server(nova, neutron, guest, floating_ip):
    """An SSH login through the floating IP lands on the server (the guest
    has the server's fixed IPv4 address); Nova lists the floating address;
    once disassociated the floating IP reaches nothing, and again once
    associated."""
    address = floating_ip["floating_ip_address"]
    fixed4 = addresses_of(guest.server, version=4, kind="fixed")[0]
    client = ssh(address, guest.pkey, guest.waiter)
    try:
        _, configured = run(client, "ip -o -4 addr show 2>/dev/null || ifconfig")
    finally:
        client.close()
    assert fixed4 in configured, f"SSH through {address} reached a host without {fixed4}: {configured[:300]}"
    wait = nova.waiter.wait(f"server {guest.boot.id} lists floating IP {address}",
                            lambda: nova.show(guest.boot.id), timeout=60, interval=1.0,
                            ready=lambda s: s == "listed",
                            state=lambda s: "listed" if address in addresses_of(s, kind="floating") else "absent")
    assert wait.state == "listed"
    neutron.update("floatingip", floating_ip["id"], port_id=None)
    try:
        wait_closed(address, 22, "after disassociating the floating IP")
    finally:
        neutron.update("floatingip", floating_ip["id"], port_id=guest.port["id"])
    wait_open(address, 22, "after associating the floating IP again")


# ---------------------------------------------------------------- the other tenant


@pytest.fixture(scope="module")
def alt_guest(alt_conn, schemas, run, alt_neutron, neutron, guest, module_resources) -> SimpleNamespace:
    """The other project's server on its own network, on an IPv4 address of
    the range our server is on that no port of ours has (so reaching it
    cannot mean reaching one of ours), with TCP 22 open from anywhere."""
    alt_nova = Nova(alt_conn, schemas, run)
    network, subnets = _project_network(alt_neutron)
    ours4 = next(ipaddress.ip_network(s["cidr"]) for s in guest.subnets if s["ip_version"] == 4)
    subnet4 = next((s for s in subnets if s["ip_version"] == 4), None)
    assert subnet4, f"the other project's network {network['id']} has no IPv4 subnet"
    theirs4 = ipaddress.ip_network(subnet4["cidr"])
    taken = {ip["ip_address"] for p in neutron.list("port") for ip in p["fixed_ips"]}
    taken |= {ip["ip_address"] for p in alt_neutron.list("port", network_id=network["id"]) for ip in p["fixed_ips"]}
    pool = subnet4["allocation_pools"][-1]
    candidates = [a for a in theirs4.hosts()
                  if ipaddress.ip_address(pool["start"]) <= a <= ipaddress.ip_address(pool["end"])
                  and str(a) not in taken]
    assert candidates, f"no free address in the other project's {theirs4}"
    address = str(candidates[len(candidates) // 2])
    group = alt_neutron.create(module_resources, "security_group")
    for ethertype in ("IPv4", "IPv6"):
        _rule(alt_neutron, module_resources, group["id"], ethertype, 22)
    port = alt_neutron.create(module_resources, "port", network_id=network["id"], security_groups=[group["id"]],
                              fixed_ips=[{"subnet_id": subnet4["id"], "ip_address": address}])
    image = alt_nova.pick_image()
    flavor = alt_nova.pick_flavors(image)[0]
    boot = alt_nova.boot(module_resources, image["id"], flavor["id"], networks=[{"port": port["id"]}],
                         wait=False)
    alt_nova.wait_status(boot.id, "ACTIVE", timeout=BUILD_TIMEOUT)
    server = alt_nova.show(boot.id)
    return SimpleNamespace(boot=boot, server=server, port=port, address=address, same_range=theirs4.overlaps(ours4),
                 range=theirs4, ours=ours4)


@pytest.mark.needs_alt
@pytest.mark.capability(ISOLATION, "bee23733-856e-464b-9214-2626d33eca35")
def test_other_tenants_server_is_unreachable_by_private_ipv4(nova, guest, session, alt_guest):
    """The other project's server answers SSH from the machine running the
    suite (over IPv6), and our server reaches its own SSH by its private
    IPv4 address; but our server gets nothing from the other server's
    private IPv4 address (TCP 22) — the other project's network is not ours,
    even where the ranges are the same."""
    alt6 = addresses_of(alt_guest.server, version=6)
    if not alt6:
        pytest.skip(f"the other project's server has no IPv6 address to check it is up by: "
                    f"{addresses_of(alt_guest.server)}")
    wait_open(alt6[0], 22, "the other project's server (its SSH over IPv6)", timeout=SSH_TIMEOUT)
    own4 = addresses_of(nova.show(guest.boot.id), version=4, kind="fixed")[0]
    assert guest_reaches(session, own4).startswith("SSH-"), (
        f"our server's nc does not reach its own SSH at {own4}: the check would prove nothing")
    got = guest_reaches(session, alt_guest.address)
    assert not got, (
        f"our server (on {alt_guest.ours}) reaches the other project's server at {alt_guest.address} "
        f"(its network {alt_guest.range}{', the same range' if alt_guest.same_range else ''}): got {got!r}")
