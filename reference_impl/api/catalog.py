"""The service catalog: which service lives under which path prefix of the
one port, the way DevStack lays them out."""

from __future__ import annotations

from dataclasses import dataclass

INTERFACES = ("public", "internal", "admin")


@dataclass(frozen=True)
class CatalogEntry:
    type: str
    name: str
    path: str  # appended to the base URL
    service_id: str

    def url(self, base_url: str) -> str:
        return base_url + self.path


# ids are fixed so the catalog is the same across restarts
CATALOG = (
    CatalogEntry("identity", "keystone", "/identity", "5c1d8ee0f4c94a4f8d3f4a3c1e9f0001"),
    CatalogEntry("compute", "nova", "/compute/v2.1", "5c1d8ee0f4c94a4f8d3f4a3c1e9f0002"),
    CatalogEntry("image", "glance", "/image", "5c1d8ee0f4c94a4f8d3f4a3c1e9f0003"),
    CatalogEntry("block-storage", "cinder", "/volume/v3", "5c1d8ee0f4c94a4f8d3f4a3c1e9f0004"),
    CatalogEntry("volumev3", "cinderv3", "/volume/v3", "5c1d8ee0f4c94a4f8d3f4a3c1e9f0005"),
    CatalogEntry("network", "neutron", "/network", "5c1d8ee0f4c94a4f8d3f4a3c1e9f0006"),
)


def endpoint_id(entry: CatalogEntry, interface: str) -> str:
    return entry.service_id[:-4] + f"{INTERFACES.index(interface) + 1:x}" + entry.service_id[-3:]


def token_catalog(base_url: str, region: str) -> list[dict]:
    """The catalog as Keystone puts it in a token."""
    return [
        {
            "id": e.service_id, "type": e.type, "name": e.name,
            "endpoints": [
                {"id": endpoint_id(e, i), "interface": i, "region": region, "region_id": region,
                 "url": e.url(base_url)}
                for i in INTERFACES
            ],
        }
        for e in CATALOG
    ]


def services(base_url: str) -> list[dict]:
    return [{"id": e.service_id, "type": e.type, "name": e.name, "enabled": True, "description": "",
             "links": {"self": f"{base_url}/identity/v3/services/{e.service_id}"}} for e in CATALOG]


def endpoints(base_url: str, region: str) -> list[dict]:
    return [{"id": endpoint_id(e, i), "interface": i, "region": region, "region_id": region,
             "service_id": e.service_id, "url": e.url(base_url), "enabled": True,
             "links": {"self": f"{base_url}/identity/v3/endpoints/{endpoint_id(e, i)}"}}
            for e in CATALOG for i in INTERFACES]
