"""``octoprobe cleanup`` after a run interrupted with SIGINT, against the
reference cloud's real API: every resource carrying the run's tag is gone
afterwards, and nothing else is touched — not a resource of the user's, not
one of another run.

The interrupted run is a real pytest session with octoprobe's plugin. Its
test makes one resource of every kind the sweeper knows, tagged as the
harness tags them, then hangs; the resources are deliberately not registered
for deletion, as if the run had died before its finalizers (a kill, a lost
machine): the sweep is what must remove them.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path


ROOT = Path(__file__).resolve().parents[3]
RUN_ID = "sweeptest01"
OTHER_RUN = "otherrun01"
HANG = textwrap.dedent('''
    import base64, pathlib, time

    def test_make_everything_and_hang(conn, run):
        net = conn.network
        network = net.create_network(name=run.name("net"), description=run.description())
        subnet = net.create_subnet(network_id=network.id, ip_version=4, cidr="10.77.0.0/24",
                                   name=run.name("subnet"), description=run.description())
        router = net.create_router(name=run.name("router"), description=run.description())
        net.add_interface_to_router(router, subnet_id=subnet.id)
        group = net.create_security_group(name=run.name("sg"), description=run.description())
        port = net.create_port(network_id=network.id, name=run.name("port"), description=run.description())
        externals = list(net.networks(is_router_external=True))
        fip = net.create_ip(floating_network_id=externals[0].id, description=run.description())
        key = conn.compute.create_keypair(name=run.name("key"))
        volume = conn.block_storage.create_volume(size=1, name=run.name("vol"), metadata=run.metadata)
        conn.block_storage.wait_for_status(volume, status="available", wait=120)
        snap = conn.block_storage.create_snapshot(volume_id=volume.id, name=run.name("snap"),
                                                  metadata=run.metadata)
        image = conn.image.create_image(name=run.name("img"), disk_format="raw", container_format="bare",
                                        tags=run.tags, data=b"octoprobe" * 100)
        own = [n for n in net.networks() if n.project_id == conn.current_project_id and n.subnet_ids
               and n.id != network.id]
        server = conn.compute.create_server(name=run.name("vm"), image_id=IMAGE, flavor_id=FLAVOR,
                                            networks=[{"uuid": own[0].id}], metadata=run.metadata)
        pathlib.Path(READY).write_text("ready")
        time.sleep(900)
''')


def _openstack_json(api_cloud, *args: str) -> list[dict]:
    return api_cloud.openstack(*args)


def _tagged(api_cloud, run_id: str) -> dict[str, list[str]]:
    """Every resource of the demo project whose name carries ``run_id``."""
    found = {}
    for kind, args in (("server", ("server", "list")), ("network", ("network", "list")),
                       ("router", ("router", "list")), ("security group", ("security", "group", "list")),
                       ("port", ("port", "list")), ("volume", ("volume", "list")),
                       ("snapshot", ("volume", "snapshot", "list")), ("image", ("image", "list")),
                       ("keypair", ("keypair", "list")), ("floating ip", ("floating", "ip", "list", "--long"))):
        rows = _openstack_json(api_cloud, *args)
        hits = [json.dumps(r) for r in rows if run_id in json.dumps(r)]
        if hits:
            found[kind] = hits
    return found


def test_cleanup_after_sigint_removes_the_run_and_nothing_else(api_cloud, tmp_path):
    guest = api_cloud.openstack("image", "show", "octoprobe-guest")
    flavor = min(api_cloud.openstack("flavor", "list", "--long"), key=lambda f: f["RAM"])
    # what must survive: the user's own network, and a resource of another run
    keep = [api_cloud.openstack("network", "create", "keep-me-cleanup")["id"],
            api_cloud.openstack("network", "create", f"octoprobe-{OTHER_RUN}-net-keep",
                                "--description", f"[octoprobe-run={OTHER_RUN}]")["id"]]
    ready = tmp_path / "ready"
    test_file = tmp_path / "test_hang.py"
    test_file.write_text(f"IMAGE = {guest['id']!r}\nFLAVOR = {flavor['ID']!r}\nREADY = {str(ready)!r}\n" + HANG)
    child = subprocess.Popen(
        [sys.executable, "-m", "pytest", str(test_file), "-p", "no:cacheprovider", "-q", "--cloud", "octoprobe",
         "--run-id", RUN_ID, "-o", "timeout=0"],
        cwd=tmp_path, env=api_cloud.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 300
        while not ready.exists():
            assert child.poll() is None, f"the run ended before it was interrupted:\n{child.stdout.read()}"
            assert time.monotonic() < deadline, "the run made no resources in 300 s"
            time.sleep(0.5)
        child.send_signal(signal.SIGINT)
        out, _ = child.communicate(timeout=120)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait(30)
    print(out[-3000:])
    assert child.returncode == 2, f"pytest interrupted by SIGINT exits 2, got {child.returncode}"
    left = _tagged(api_cloud, RUN_ID)
    assert {"server", "network", "router", "volume", "snapshot", "image", "keypair"} <= set(left), left

    env = api_cloud.env
    dry = subprocess.run([sys.executable, "-m", "octoprobe.cli", "cleanup", "--cloud", "octoprobe", "--run", RUN_ID,
                          "--dry-run"], env=env, capture_output=True, text=True, timeout=300)
    print(dry.stdout, dry.stderr)
    assert dry.returncode == 0 and RUN_ID in dry.stdout
    assert _tagged(api_cloud, RUN_ID).keys() == left.keys(), "--dry-run deleted something"

    sweep = subprocess.run([sys.executable, "-m", "octoprobe.cli", "cleanup", "--cloud", "octoprobe", "--run",
                            RUN_ID], env=env, capture_output=True, text=True, timeout=900)
    print(sweep.stdout, sweep.stderr)
    assert sweep.returncode == 0, sweep.stdout + sweep.stderr
    assert _tagged(api_cloud, RUN_ID) == {}, "resources of the run survived the cleanup"
    ids = {n["ID"] for n in api_cloud.openstack("network", "list")}
    assert set(keep) <= ids, "the cleanup deleted a network that is not the run's"
    api_cloud.openstack("network", "delete", *keep, json_out=False)
