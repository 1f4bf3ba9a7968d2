"""Boot time: is a VM usable soon after the API call?

Each boot is timed by phase (``boot.accepted``, ``boot.active``,
``boot.ping``, ``boot.ssh``, ``boot.userdata``; seconds since the create
call), from an image one after another (``--perf-repetitions``), N at once
(``--perf-concurrency``) and from a volume. With Ceph access the root disk of
an image boot must be an RBD copy-on-write clone (a parent, almost nothing
written): a boot that fell back to a full copy fails, since that is what makes
boots slow and storage fill up.
"""

from __future__ import annotations

from typing import Any

import pytest

from octoprobe.perf.boot import measure_boot, measure_boots
from octoprobe.perf.cloud import userdata_script

BOOT_GATES = ("boot_to_ssh_p95", "boot_active_p95")


def _boot_kwargs(pytestconfig: pytest.Config) -> dict[str, Any]:
    return {"timeout": pytestconfig.option.perf_boot_timeout, "poll": 0.25}


def _root_disk_check(request: pytest.FixtureRequest, server_id: str) -> str:
    """'clone' when the root disk is an RBD clone; skip without Ceph access."""
    try:
        rbd = request.getfixturevalue("rbd")
    except pytest.skip.Exception:
        return "not checked (no Ceph access)"
    pool = request.config.option.perf_vm_pool
    parent = rbd.info(pool, f"{server_id}_disk").parent
    assert parent, (f"server {server_id}: its root disk {pool}/{server_id}_disk has no parent: the boot made a "
                    f"full copy of the image instead of a copy-on-write clone")
    return f"clone of {parent.pool}/{parent.image}@{parent.snapshot}"


@pytest.mark.gate(*BOOT_GATES, "boot_userdata_p95")
def test_boot_from_image(perf_cloud, module_resources, samples, pytestconfig, request, perf_phase):
    """One boot after another: every phase, user data included; each server's
    root disk is an RBD clone; each server is deleted before the next boot."""
    reps = pytestconfig.option.perf_repetitions
    for rep in range(reps):
        perf_phase(f"boot {rep + 1}/{reps}")
        cloud = perf_cloud.using(module_resources)
        steps = cloud.boot("img", user_data=userdata_script())
        timeline = measure_boot(steps, **_boot_kwargs(pytestconfig))
        disk = _root_disk_check(request, timeline.server_id)
        samples.extend(timeline.samples(source="image", concurrency=1, repetition=rep, root_disk=disk,
                                        image=perf_cloud.image.name, flavor=perf_cloud.flavor.name))
        print(f"boot {rep + 1}/{reps}: {timeline.describe()}; root disk {disk}")
        cloud.delete_server(timeline.server_id)
    assert len(samples.of("boot.ssh")) == reps


@pytest.mark.gate(*BOOT_GATES)
def test_boot_concurrent(perf_cloud, module_resources, samples, pytestconfig, perf_phase):
    """N servers created at once: each one's phases, measured in parallel."""
    n = pytestconfig.option.perf_concurrency
    perf_phase(f"{n} boots at once")
    cloud = perf_cloud.using(module_resources)
    timelines = measure_boots(lambda i: cloud.boot(f"par{i}"), n, **_boot_kwargs(pytestconfig))
    for i, timeline in enumerate(timelines):
        samples.extend(timeline.samples(source="image", concurrency=n, repetition=i,
                                        image=perf_cloud.image.name, flavor=perf_cloud.flavor.name))
        print(f"boot {i + 1} of {n} at once: {timeline.describe()}")
    for timeline in timelines:
        cloud.delete_server(timeline.server_id)
    assert len(samples.of("boot.ssh")) == n


@pytest.mark.gate("boot_from_volume_ssh")
def test_boot_from_volume(perf_cloud, module_resources, samples, pytestconfig):
    """A server whose root disk is a volume made from the image."""
    cloud = perf_cloud.using(module_resources)
    size = max(pytestconfig.option.perf_volume_size, -(-(perf_cloud.image.size or 0) // 2**30))
    timeline = measure_boot(cloud.boot("vol", boot_volume_gb=size), **_boot_kwargs(pytestconfig))
    samples.extend(timeline.samples(source="volume", concurrency=1, repetition=0,
                                    image=perf_cloud.image.name, flavor=perf_cloud.flavor.name))
    print(f"boot from volume: {timeline.describe()}")
    cloud.delete_server(timeline.server_id)
    assert samples.of("boot.ssh")
