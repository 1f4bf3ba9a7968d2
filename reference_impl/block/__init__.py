"""Block storage for the reference cloud: volumes and snapshots as RBD
images in pool ``volumes`` (what the Cinder API drives). See
:mod:`.volumes` for how each operation maps onto RBD."""

from .volumes import (BlockError, BlockStore, ImageSource, InvalidSize, SnapshotNotFound, VolumeExists,
                      VolumeHasSnapshots, VolumeNotFound, snapshot_name, volume_name)

__all__ = ["BlockError", "BlockStore", "ImageSource", "InvalidSize", "SnapshotNotFound", "VolumeExists",
           "VolumeHasSnapshots", "VolumeNotFound", "snapshot_name", "volume_name"]
