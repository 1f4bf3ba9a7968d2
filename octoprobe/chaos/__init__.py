"""The chaos library: predict, break, write, check, measure — kept apart,
Jepsen-style, and driven by the ``chaos/`` pytest suite and
``bench/chaos_scenarios.py``.

- :mod:`.oracle` — pure: from the CRUSH tree, pools, the monitor's settings
  and capacity, what a fault must do (heal-to-full, degraded-but-available,
  io-blocked), which OSDs go out, and a refusal when OSDs would pass nearfull
- :mod:`.inputs` — reads the oracle's inputs from a live cluster
- :mod:`.workload` — checksummed RADOS objects written before and during a
  fault, with the history of acknowledged writes
- :mod:`.checker` — reads every write back: lost, corrupt, unfound, unreadable
- :mod:`.measure` — a timeline from polling ``ceph status``; detection, out,
  active+clean, peaks, inactive time, client I/O stall, as samples
- :mod:`.scenario` — the scenarios and their runner
- :mod:`.vm` — VM continuity: a block writer inside a guest (O_DIRECT +
  fsync to an RBD-backed disk, an ack log) and its pure checker and I/O stats
- :mod:`.target` — which cluster and fault driver: the reference cloud, or a lab
  (inventory; ceph and rados over SSH, :mod:`.rados_pipe`)

The faults themselves are in :mod:`octoprobe.faults`.
"""
