"""Block storage for the reference cloud: volumes and snapshots as RBD
images in pool ``volumes`` (what the Cinder API drives)."""
