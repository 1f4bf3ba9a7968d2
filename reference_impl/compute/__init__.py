"""The reference cloud's compute layer: a guest image built from Debian's packages,
and QEMU VMs that boot from Ceph RBD copy-on-write clones.

The API layer drives :class:`ComputeService`; ``octoprobe cloud up`` calls
:meth:`ComputeService.ensure_guest_images` (once the pools exist: the guest
image ``octoprobe-guest`` and the perf image ``octoprobe-perf``) and
:meth:`ComputeService.restore`; ``cloud down`` calls :func:`teardown_all_vms`
first, before the network and Ceph go.
"""

from .configdrive import InstanceData, NicInfo, hostname_for, render_meta_data, render_network_data
from .errors import *  # noqa: F401,F403  (the exception classes are part of the API)
from .errors import ComputeError
from .guest_image import (
    DEFAULT_VARIANT,
    GUEST_VARIANTS,
    PERF_VARIANT,
    GuestArtifacts,
    GuestImageBuilder,
    GuestVariant,
    build_guest_image,
    default_cache_dir,
)
from .hypervisor import (
    READY_MARK,
    ComputeService,
    ServerView,
    derive_status,
    ensure_guest_image,
    leftovers,
    parse_guest_phases,
    parse_ready_line,
    teardown_all_vms,
)
from .model import Flavor, Image, RootVolume, Server, VolumeAttachment
from .placement import HostLoad, choose_host

__all__ = [
    "ComputeService",
    "ComputeError",
    "ServerView",
    "Flavor",
    "Image",
    "Server",
    "VolumeAttachment",
    "RootVolume",
    "HostLoad",
    "choose_host",
    "GuestArtifacts",
    "GuestImageBuilder",
    "GuestVariant",
    "DEFAULT_VARIANT",
    "PERF_VARIANT",
    "GUEST_VARIANTS",
    "build_guest_image",
    "default_cache_dir",
    "ensure_guest_image",
    "teardown_all_vms",
    "leftovers",
    "derive_status",
    "parse_ready_line",
    "parse_guest_phases",
    "READY_MARK",
    "InstanceData",
    "NicInfo",
    "hostname_for",
    "render_meta_data",
    "render_network_data",
]
