"""The services the API serves, and the database tables they need."""

from __future__ import annotations

from . import identity
from .identity_store import SCHEMA as IDENTITY_SCHEMA
from .routing import Service


def all_services() -> list[Service]:
    return [identity.service]


def all_schemas() -> tuple[str, ...]:
    return (IDENTITY_SCHEMA,)
