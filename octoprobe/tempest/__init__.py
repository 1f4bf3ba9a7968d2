"""The Tempest bridge: run OpenStack's own API tests (the ones an interop
guideline requires) against a cloud and bring their results into ours.

* :mod:`.testlist` — the guideline's required tests as Tempest's include
  list (regexes anchored on idempotent ids), and results mapped back;
* :mod:`.config` — tempest.conf derived from the cloud (discovery, then a
  pure rendering);
* :mod:`.results` — a subunit v2 stream as per-test results (redacted);
* :mod:`.summary` — verdicts per required test, counts per service;
* :mod:`.report` — the verdicts as octoprobe's RunResult (one test per
  required test, with its capability), for the report writers;
* :mod:`.runner` — the workspace, the stestr subprocess with its deadline,
  and the check for what a run left behind;
* :mod:`.cli` — ``octoprobe tempest``.
"""
