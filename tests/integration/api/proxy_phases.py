"""A pytest plugin for the conformance run behind :mod:`mutating_proxy`:
it tells the proxy (``$OCTOPROBE_PROXY_CONTROL``, a URL) which phase of
which test runs — ``setup``, ``call``, ``teardown``, and ``""`` between
tests — so that mutations change only what a test's own call asks
(test-only; loaded with ``-p proxy_phases``). The suite runs in one
process (no ``-n``): one test at a time."""

from __future__ import annotations

import http.client
import json
import os
from typing import Any, Iterator
from urllib.parse import urlsplit

import pytest

ENV = "OCTOPROBE_PROXY_CONTROL"


def _tell(nodeid: str, phase: str) -> None:
    url = os.environ.get(ENV)
    if not url:
        return
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port or 80, timeout=30)
    try:
        conn.request("POST", parts.path, body=json.dumps({"nodeid": nodeid, "phase": phase}),
                     headers={"Content-Type": "application/json"})
        resp = conn.getresponse()
        resp.read()
        if resp.status != 204:
            raise RuntimeError(f"the mutating proxy at {url} refused phase {phase!r}: HTTP {resp.status}")
    finally:
        conn.close()


def _phase(item: pytest.Item, phase: str) -> Iterator[Any]:
    _tell(item.nodeid, phase)
    try:
        yield
    finally:
        _tell(item.nodeid, "")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_setup(item: pytest.Item) -> Iterator[Any]:
    yield from _phase(item, "setup")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[Any]:
    yield from _phase(item, "call")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_teardown(item: pytest.Item) -> Iterator[Any]:
    yield from _phase(item, "teardown")
