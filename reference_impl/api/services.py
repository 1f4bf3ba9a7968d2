"""The services the API serves, and the database tables they need."""

from __future__ import annotations

from . import compute_api, identity, image, network_api, volume_api
from .identity_store import SCHEMA as IDENTITY_SCHEMA
from .routing import Service


def all_services() -> list[Service]:
    return [identity.service, image.service, compute_api.service, network_api.service, volume_api.service]


def all_schemas() -> tuple[str, ...]:
    return tuple(s for s in (IDENTITY_SCHEMA, image.SCHEMA, compute_api.SCHEMA, network_api.SCHEMA,
                            volume_api.SCHEMA) if s)
