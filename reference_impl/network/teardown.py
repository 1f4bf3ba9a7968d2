"""Removing every kernel object and process of the network library.

:func:`teardown_all` is what ``octoprobe cloud down`` calls before the
underlay goes: it needs only the prefix (and, to find dnsmasq processes whose
namespace is already gone, the state directory). The desired state stays on
disk, so ``cloud up`` can rebuild it (:meth:`NetworkPlane.restore`), unless
``purge=True``.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Callable

from octoprobe.shell import Runner

from .. import processes
from .dataplane import STOP_TIMEOUT, find_our_dnsmasq
from .kernel import Kernel
from .names import SG_FILTER_TABLE, SG_MARK_TABLE, NetNames, NetPaths


def teardown_all(
    prefix: str,
    *,
    state_dir: str | Path | None = None,
    purge: bool = False,
    runner: Runner | None = None,
    progress: Callable[[str], None] = lambda msg: None,
) -> dict[str, int]:
    """Remove every namespace, device, nftables table and process the network
    library made for the cloud with ``prefix``; with ``purge``, also forget the
    desired state (``state_dir/network``). Returns what was removed, by kind."""
    kernel = Kernel(runner)
    names = NetNames(prefix)
    removed = {"namespaces": 0, "processes": 0, "links": 0, "nft_tables": 0}
    namespaces = kernel.namespaces()

    pids: list[int] = []
    ours = sorted(ns for ns in namespaces if names.is_our_extra_ns(ns))
    for ns in ours:
        out = kernel.run(["ip", "netns", "pids", ns], check=False).stdout
        pids += [int(p) for p in out.split() if p.isdigit()]
    if state_dir is not None:
        pids += [p.pid for p in find_our_dnsmasq(NetPaths.under(Path(state_dir)).root)]
    pids = sorted(set(pids))
    if pids:
        processes.stop(pids, timeout=STOP_TIMEOUT)
        removed["processes"] = len(pids)
    for ns in ours:
        kernel.del_netns(ns)
        removed["namespaces"] += 1

    for name in sorted(kernel.links(None)):
        if names.is_our_root_link(name):
            kernel.del_link(None, name)
            removed["links"] += 1

    hosts = sorted(ns for ns in namespaces if ns.startswith(f"{prefix}-") and not names.is_our_extra_ns(ns))
    for ns in hosts:
        doomed = [n for n in kernel.links(ns) if NetNames.is_our_host_link(n)]
        # bridges last is not needed: deleting a bridge releases its ports
        if doomed:
            kernel.ip_batch(ns, [f"link del {n}" for n in doomed], force=True)
            removed["links"] += len(doomed)
        tables = kernel.exec(ns, ["nft", "list", "tables"], check=False).stdout.split("\n")
        present = [t.strip()[len("table "):] for t in tables if t.strip() in
                   (f"table bridge {SG_MARK_TABLE}", f"table inet {SG_FILTER_TABLE}")]
        if present:
            kernel.nft(ns, "".join(f"delete table {t}\n" for t in present))
            removed["nft_tables"] += len(present)

    if state_dir is not None:
        paths = NetPaths.under(Path(state_dir))
        for sub in ("dhcp", "router", "endpoints"):
            shutil.rmtree(paths.root / sub, ignore_errors=True)
        if purge:
            shutil.rmtree(paths.root, ignore_errors=True)
    progress("network: removed " + ", ".join(f"{v} {k}" for k, v in removed.items()))
    return removed


def leftovers(prefix: str, *, runner: Runner | None = None) -> list[str]:
    """Everything of the network library that exists now (empty after teardown_all)."""
    kernel = Kernel(runner)
    names = NetNames(prefix)
    found = []
    namespaces = kernel.namespaces()
    found += [f"netns {ns}" for ns in sorted(namespaces) if names.is_our_extra_ns(ns)]
    found += [f"link {n}" for n in sorted(kernel.links(None)) if names.is_our_root_link(n)]
    for ns in sorted(n for n in namespaces if n.startswith(f"{prefix}-") and not names.is_our_extra_ns(n)):
        found += [f"link {ns}/{n}" for n in sorted(kernel.links(ns)) if NetNames.is_our_host_link(n)]
        tables = kernel.exec(ns, ["nft", "list", "tables"], check=False).stdout.split("\n")
        found += [f"nft {ns}/{t.strip()}" for t in tables
                  if t.strip() in (f"table bridge {SG_MARK_TABLE}", f"table inet {SG_FILTER_TABLE}")]
    return found
