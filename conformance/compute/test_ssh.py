"""The data plane behind the API: the shared server answers SSH with its
keypair and with no other key (dreamcompute-ssh-keypair), and the guest agrees with what the API says about it — its host
name is the server's name (compute-servers-host), its CPU count the
flavor's vcpus (compute-servers-verify), as Tempest checks them with SSH.

Reaching the guest needs TCP port 22 open in the project's default security
group: the test adds the rules through the Network API (run-tagged, deleted
after the module). Without a Network API that can do so, these tests skip
and say why. The machine running the suite must reach the server's IPv6
address (routed) or a floating IPv4 address. ``$OCTOPROBE_COMPUTE_SSH_USER``
names the guest's user (default ``root``, the user of the ``octoprobe-guest``
image)."""

from __future__ import annotations

import os
import socket

import paramiko
import pytest

from octoprobe.remote import load_private_key

from .nova import addresses_of, check_status, json_body

HOST = "compute-servers-host"
KEYPAIR = "dreamcompute-ssh-keypair"
VERIFY = "compute-servers-verify"
SSH_USER_ENV = "OCTOPROBE_COMPUTE_SSH_USER"
SSH_TIMEOUT = 240.0


def _network(conn, method: str, path: str, **kwargs):
    return conn.network.request(path, method, raise_exc=False, headers={"Accept": "application/json"}, **kwargs)


def _open_port_22(nova, registry) -> None:
    """Ingress TCP 22 (IPv4 and IPv6) in the project's default security group."""
    conn = nova.conn
    try:
        resp = _network(conn, "GET", f"/security-groups?name=default&project_id={nova.project_id}")
    except Exception as exc:  # no network endpoint in the catalog
        pytest.skip(f"cannot open TCP port 22 to the guest: the cloud has no usable Network API ({exc})")
    if resp.status_code in (404, 501):
        pytest.skip(f"cannot open TCP port 22 to the guest: the Network API answers GET /v2.0/security-groups "
                    f"with {resp.status_code} (security groups not implemented)")
    check_status(resp, 200)
    groups = json_body(resp).get("security_groups") or []
    assert groups, f"project {nova.project_id} has no default security group"
    group_id = groups[0]["id"]
    for ethertype in ("IPv4", "IPv6"):
        rule = {"security_group_id": group_id, "direction": "ingress", "ethertype": ethertype, "protocol": "tcp",
                "port_range_min": 22, "port_range_max": 22, "description": nova.run.description("ssh")}
        resp = _network(conn, "POST", "/security-group-rules", json={"security_group_rule": rule})
        if resp.status_code == 409:  # the rule exists already: not ours to delete
            continue
        if resp.status_code in (404, 501):
            pytest.skip(f"cannot open TCP port 22 to the guest: the Network API answers POST "
                        f"/v2.0/security-group-rules with {resp.status_code}")
        check_status(resp, 201)
        rule_id = json_body(resp)["security_group_rule"]["id"]
        registry.add(f"security group rule {rule_id}",
                     lambda rid=rule_id: _network(conn, "DELETE", f"/security-group-rules/{rid}"))


def _private_key(pem: str) -> paramiko.PKey:
    try:
        return load_private_key(pem)
    except ValueError:
        raise AssertionError("the private key the cloud generated cannot be read (not RSA, ECDSA or Ed25519 "
                             "PEM)") from None


def _connect(address: str, pkey: paramiko.PKey, user: str) -> paramiko.SSHClient:
    client = paramiko.SSHClient()
    client.set_missing_host_key_policy(paramiko.AutoAddPolicy())  # a new guest: its host key is new
    client.connect(address, username=user, pkey=pkey, timeout=10, banner_timeout=10, auth_timeout=10,
                   allow_agent=False, look_for_keys=False)
    return client


@pytest.fixture(scope="module")
def guest(nova, server, server_keypair, module_resources):
    """An SSH session to the shared server as its keypair's owner."""
    _open_port_22(nova, module_resources)
    shown = nova.show(server.id)
    candidates = addresses_of(shown, version=6) + addresses_of(shown, version=4, kind="floating")
    if not candidates:
        pytest.skip(f"server {server.id} has neither an IPv6 nor a floating IPv4 address to reach it by "
                    f"(addresses: {addresses_of(shown)})")
    pkey = _private_key(server_keypair["private_key"])
    user = os.environ.get(SSH_USER_ENV, "root")
    errors: dict[str, str] = {}

    def attempt():
        for address in candidates:
            try:
                return _connect(address, pkey, user)
            except (OSError, EOFError, socket.timeout, paramiko.SSHException) as exc:
                errors[address] = f"{type(exc).__name__}: {exc}"
        return None

    result = nova.waiter.wait(f"SSH to server {server.id} as {user} at {', '.join(candidates)}", attempt,
                              ready=lambda s: s == "connected", timeout=SSH_TIMEOUT, interval=2.0,
                              state=lambda c: "connected" if c is not None else "refused",
                              fault=lambda c: "; ".join(f"{a}: {e}" for a, e in errors.items()) or None)
    client = result.value
    module_resources.add(f"SSH session to {server.id}", client.close)
    return client


def _run(client: paramiko.SSHClient, command: str) -> str:
    _, stdout, stderr = client.exec_command(command, timeout=30)
    status = stdout.channel.recv_exit_status()
    out = stdout.read().decode(errors="replace")
    assert status == 0, f"`{command}` in the guest exited {status}: {stderr.read().decode(errors='replace')[:300]}"
    return out.strip()


@pytest.mark.capability(HOST, "ac1ad47f-984b-4441-9274-c9079b7a0666")
def test_host_name_is_same_as_server_name(guest, server):
    """The guest's host name is the server's name (as given at creation)."""
    hostname = _run(guest, "hostname")
    assert hostname.split(".")[0] == server.name[:63].lower(), (
        f"the guest calls itself {hostname!r}; the server is named {server.name!r}")


@pytest.mark.capability(VERIFY, "cbc0f52f-05aa-492b-bdc1-84b575ca294b")
def test_verify_created_server_vcpus(guest, nova, flavor):
    """The guest has as many CPUs as GET /flavors/{id} gives the server's flavor."""
    shown = nova.get(f"/flavors/{flavor['id']}", "compute/flavor")["flavor"]
    count = int(_run(guest, "grep -c ^processor /proc/cpuinfo"))
    assert count == shown["vcpus"], f"the guest has {count} CPUs; flavor {shown['name']} has {shown['vcpus']} vcpus"


@pytest.mark.capability(VERIFY, "449ed0ae-95af-4bd3-8c89-acf2629486eb")
def test_guest_has_the_servers_addresses(guest, nova, server):
    """Every fixed address the API gives the server is configured in the guest."""
    shown = nova.show(server.id)
    configured = _run(guest, "ip -o addr show 2>/dev/null || ifconfig -a")
    missing = [a for a in addresses_of(shown, kind="fixed") if a not in configured]
    assert not missing, f"the guest lacks the server's addresses {missing}: {configured[:500]}"


@pytest.mark.capability(KEYPAIR, "5d0b7d64-3b8e-4f0a-9f57-0c6b1f2a8e31")
def test_server_takes_its_keypair_and_no_other_key(guest, nova, server, server_keypair):
    """The server let the keypair's owner in (the ``guest`` session) with the
    keypair's public key (as GET /os-keypairs/{name} shows it) installed for
    that user; a key of the same kind that is not the keypair's is refused."""
    shown = nova.get(f"/os-keypairs/{server_keypair['name']}", "compute/keypair")["keypair"]
    installed = _run(guest, "cat ~/.ssh/authorized_keys")
    public = shown["public_key"].split()[:2]  # type and key, without the comment
    assert " ".join(public) in installed, (
        f"the keypair's public key {' '.join(public)[:60]}... is not in authorized_keys: {installed[:300]}")
    address = guest.get_transport().getpeername()[0]
    stranger = paramiko.RSAKey.generate(2048) if public[0] == "ssh-rsa" else paramiko.ECDSAKey.generate()
    try:
        client = _connect(address, stranger, os.environ.get(SSH_USER_ENV, "root"))
    except paramiko.AuthenticationException:
        return
    client.close()
    raise AssertionError(f"server {server.id} let in a key that is not its keypair's")
