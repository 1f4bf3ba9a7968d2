"""The reference cloud's compute layer: a guest image built from Debian's packages,
and QEMU VMs that boot from Ceph RBD copy-on-write clones."""
