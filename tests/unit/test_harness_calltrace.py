"""octoprobe.calltrace: every HTTP call of an openstacksdk connection, redacted."""

from __future__ import annotations

import importlib.util
import json
import logging
from pathlib import Path

import pytest

from octoprobe.calltrace import Call, CallTrace, Tracer
from octoprobe.target import resolve_cloud

DATA = Path(__file__).parent / "data" / "harness"


def load_fake_cloud():
    spec = importlib.util.spec_from_file_location("octoprobe_fake_cloud", DATA / "fake_cloud.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


fake_cloud = load_fake_cloud()


class Ticker:
    def __init__(self, step: float = 0.01):
        self.now = 0.0
        self.step = step

    def __call__(self) -> float:
        self.now += self.step
        return self.now


class Response:
    def __init__(self, status, url, headers=None):
        self.status_code = status
        self.url = url
        self.headers = headers or {}


class FakeSession:
    """Stands in for a keystoneauth Session: request(url, method, **kwargs)."""

    def __init__(self):
        self.calls = []

    def request(self, url, method, **kwargs):
        self.calls.append((method, url))
        if "fail" in url:
            raise ConnectionError("connection refused to http://h/?token=tok-secret")
        return Response(200, url, {"x-openstack-request-id": "req-1", "OpenStack-API-Version": "compute 2.79"})

    def get(self, url, **kwargs):
        return self.request(url, "GET", **kwargs)


def test_records_only_while_a_trace_is_active():
    session = FakeSession()
    tracer = Tracer(clock=Ticker())
    assert tracer.instrument(session) is session
    session.get("http://h/before")
    trace = CallTrace(clock=Ticker())
    with tracer.recording(trace, "call"):
        session.get("http://h/v2.1/servers?password=p")
    session.get("http://h/after")
    assert len(session.calls) == 3
    [call] = trace.calls
    assert call.method == "GET" and call.status == 200 and call.phase == "call"
    assert call.url == "http://h/v2.1/servers?password=<redacted>"
    assert call.request_id == "req-1"
    assert call.duration == pytest.approx(0.01)


def test_instrumenting_twice_records_once():
    session = FakeSession()
    tracer = Tracer()
    tracer.instrument(session)
    tracer.instrument(session)
    trace = CallTrace()
    with tracer.recording(trace):
        session.request("http://h/x", "get")
    assert len(trace) == 1 and trace.calls[0].method == "GET"


def test_errors_are_recorded_redacted_and_reraised():
    session = FakeSession()
    tracer = Tracer()
    tracer.instrument(session)
    trace = CallTrace()
    with tracer.recording(trace, "setup"), pytest.raises(ConnectionError):
        session.request("http://h/fail", "POST")
    [call] = trace.for_phase("setup")
    assert call.status is None
    assert "ConnectionError" in call.error and "tok-secret" not in call.error


def test_nested_recording_restores_the_outer_trace():
    session = FakeSession()
    tracer = Tracer()
    tracer.instrument(session)
    outer, inner = CallTrace(), CallTrace()
    with tracer.recording(outer, "call"):
        with tracer.recording(inner, "call"):
            session.get("http://h/1")
        session.get("http://h/2")
    assert [c.url for c in inner] == ["http://h/1"]
    assert [c.url for c in outer] == ["http://h/2"]


def test_render_text_and_json():
    trace = CallTrace()
    trace.record(Call("GET", "http://h/x", 200, 0.0123, "req-9", "compute 2.79", "call", 1.5))
    trace.record(Call("POST", "http://h/y", None, 0.5, phase="call", error="Timeout: read timed out"))
    text = trace.render_text()
    assert "GET    200     12.3 ms  http://h/x  [req-9]  (compute 2.79)" in text
    assert "POST   ---    500.0 ms  http://h/y  error: Timeout: read timed out" in text
    data = json.loads(trace.to_json())
    assert data[0]["request_id"] == "req-9" and data[1]["status"] is None
    assert repr(trace) == "CallTrace(2 calls)"


def test_openstacksdk_connection_end_to_end(tmp_path, monkeypatch, caplog):
    """A real openstacksdk Connection through a real keystoneauth Session; only
    the HTTP transport is fake. Every call is traced; no secret is recorded."""
    monkeypatch.delenv("OS_CLOUD", raising=False)
    clouds = tmp_path / "clouds.yaml"
    clouds.write_text(fake_cloud.CLOUDS_YAML)
    target = resolve_cloud("fake", config_files=[str(clouds)], secure_files=[], api_timeout=5)
    conn = target.connect()
    http = fake_cloud.install(conn)
    tracer = Tracer()
    tracer.instrument(conn.session)
    trace = CallTrace()
    with caplog.at_level(logging.DEBUG), tracer.recording(trace, "call"):
        flavors = [f.name for f in conn.compute.flavors()]
    assert flavors == ["m1.tiny"]
    assert len(trace) == len(http.seen) >= 3
    methods = [(c.method, c.url.split("?")[0], c.status) for c in trace]
    assert ("POST", "http://keystone.test/v3/auth/tokens", 201) in methods
    assert ("GET", "http://nova.test/v2.1/flavors/detail", 200) in methods
    ids = {c.request_id for c in trace}
    assert {"req-token-1", "req-flavors-1"} <= ids
    everything = trace.to_json() + trace.render_text() + caplog.text
    assert fake_cloud.TOKEN_ID not in trace.to_json() + trace.render_text()
    assert "hunter2-secret" not in everything
    # the token was really sent, so the test would notice if the fake were bypassed
    assert any(h.get("X-Auth-Token") == fake_cloud.TOKEN_ID for _, _, h in http.seen)
