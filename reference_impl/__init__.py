"""The bundled reference cloud: real Ceph daemons, real Linux networking, one machine.

Installed as ``octoprobe.reference_impl``.
"""
