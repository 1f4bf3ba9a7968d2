"""octoprobe: qualify OpenStack + Ceph clouds, hardware in the loop."""

__version__ = "0.1.0"
