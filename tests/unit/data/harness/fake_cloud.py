"""A fake OpenStack cloud at the HTTP level, for tests without a network.

``FakeHTTP`` is a requests transport adapter: mounted on the requests session
inside a keystoneauth Session (``conn.session.session`` of an openstacksdk
Connection), it answers Keystone's token and version requests and Nova's
version document and flavor list from canned data, and 404 to anything else.
Every request it sees is kept in ``seen``. Self-contained, so a test can
also use this file's text as a pytester conftest.
"""

import json

import requests
from requests.adapters import BaseAdapter

TOKEN_ID = "gAAAAABfaketokenfaketokenfaketokenfaketoken0123456789"

_TOKEN = {
    "token": {
        "methods": ["password"],
        "expires_at": "2099-01-01T00:00:00.000000Z",
        "issued_at": "2026-01-01T00:00:00.000000Z",
        "user": {"id": "u1", "name": "demo", "domain": {"id": "default", "name": "Default"}},
        "project": {"id": "p1", "name": "demo", "domain": {"id": "default", "name": "Default"}},
        "roles": [{"id": "r1", "name": "member"}],
        "catalog": [
            {
                "type": "compute",
                "name": "nova",
                "id": "c1",
                "endpoints": [
                    {
                        "id": "e1",
                        "interface": "public",
                        "region": "RegionOne",
                        "region_id": "RegionOne",
                        "url": "http://nova.test/v2.1",
                    }
                ],
            }
        ],
    }
}
_KEYSTONE_VERSION = {
    "version": {
        "id": "v3.14",
        "status": "stable",
        "updated": "2020-04-07T00:00:00Z",
        "links": [{"rel": "self", "href": "http://keystone.test/v3/"}],
        "media-types": [{"base": "application/json", "type": "application/vnd.openstack.identity-v3+json"}],
    }
}
_NOVA_VERSION = {
    "version": {
        "id": "v2.1",
        "status": "CURRENT",
        "version": "2.95",
        "min_version": "2.1",
        "updated": "2013-07-23T11:33:21Z",
        "links": [{"rel": "self", "href": "http://nova.test/v2.1/"}],
    }
}
_FLAVORS = {"flavors": [{"id": "1", "name": "m1.tiny", "ram": 512, "disk": 1, "vcpus": 1, "links": []}]}

ROUTES = {
    ("GET", "http://keystone.test/v3"): (200, {}, _KEYSTONE_VERSION),
    ("POST", "http://keystone.test/v3/auth/tokens"): (
        201,
        {"X-Subject-Token": TOKEN_ID, "x-openstack-request-id": "req-token-1"},
        _TOKEN,
    ),
    ("GET", "http://nova.test/v2.1"): (200, {}, _NOVA_VERSION),
    ("GET", "http://nova.test/v2.1/flavors/detail"): (
        200,
        {"x-openstack-request-id": "req-flavors-1", "x-compute-request-id": "req-flavors-1"},
        _FLAVORS,
    ),
}

CLOUDS_YAML = """\
clouds:
  fake:
    auth:
      auth_url: http://keystone.test/v3
      username: demo
      password: hunter2-secret
      project_name: demo
      user_domain_name: Default
      project_domain_name: Default
    region_name: RegionOne
"""


class FakeHTTP(BaseAdapter):
    def __init__(self, routes=None):
        super().__init__()
        self.routes = ROUTES if routes is None else routes
        self.seen = []

    def send(self, request, **kwargs):
        self.seen.append((request.method, request.url, dict(request.headers)))
        key = (request.method, request.url.split("?")[0].rstrip("/"))
        status, headers, body = self.routes.get(key, (404, {}, {"error": {"code": 404, "message": "not found"}}))
        response = requests.Response()
        response.status_code = status
        response.url = request.url
        response.request = request
        response.headers.update({"Content-Type": "application/json", **headers})
        response._content = json.dumps(body).encode()
        response.encoding = "utf-8"
        return response

    def close(self):
        pass


def install(conn):
    """Route every http:// request of an openstacksdk Connection to a new FakeHTTP."""
    fake = FakeHTTP()
    conn.session.session.mount("http://", fake)
    return fake
