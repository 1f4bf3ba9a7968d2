"""The reference cloud's OpenStack API: one ASGI service (Starlette) on the
control host serving Keystone v3, Glance v2 and Nova v2.1 under path prefixes
of one port, the way DevStack does (``/identity``, ``/image``, ``/compute``).

Its own state (identity, image records, keypairs, Nova bookkeeping) lives in
SQLite; what the data plane does is read back from the storage, network and
compute libraries, never stored as a claim (a server is ACTIVE because QEMU
runs it).
"""
