"""The chaos suite: kill disks, nodes and racks; prove Ceph heals and loses nothing.

Run it with ``pytest chaos/`` (see conftest.py for the options). The library
it drives is :mod:`octoprobe.chaos` (oracle, workload, checker, measurements,
scenarios) and :mod:`octoprobe.faults` (the fault drivers and the guard).
"""
