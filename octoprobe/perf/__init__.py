"""The perf suite's library: measuring, and judging what was measured.

* :mod:`.boot` — boot time by phase (API call → ACTIVE → ping → SSH → user data);
* :mod:`.fio`, :mod:`.iperf3`, :mod:`.rbd_bench` — the tools as subprocesses
  (JSON output), parsed by pure functions into samples;
* :mod:`.theory` — what the hardware allows (TCP goodput over a link, a
  storage bound) to report measured / possible;
* :mod:`.hardware` — a node's inventory (CPU, RAM, disks, NICs, BIOS);
* :mod:`.cloud`, :mod:`.guest`, :mod:`.tools` — servers booted for measuring,
  commands in guests over SSH and on this machine;
* :mod:`.stats`, :mod:`.profiles`, :mod:`.gates`, :mod:`.judging` — median,
  p95 and a bootstrap confidence interval; gate profiles (YAML, shipped
  ``reference`` and ``dreamcompute``); the verdict of each gate, against a
  baseline too.
"""
