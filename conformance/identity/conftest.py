"""Fixtures of the identity tests: a :class:`~.keystone.Keystone` per cloud role."""

from __future__ import annotations

from typing import Any

import pytest

from .keystone import Keystone


@pytest.fixture(scope="session")
def keystone(conn: Any, schemas: Any) -> Keystone:
    """Token operations as the user of the cloud under test."""
    return Keystone(conn, schemas)


@pytest.fixture(scope="session")
def admin_keystone(admin_conn: Any, schemas: Any) -> Keystone:
    """As the admin cloud's user (skips without --admin-cloud)."""
    return Keystone(admin_conn, schemas)


@pytest.fixture(scope="session")
def alt_keystone(alt_conn: Any, schemas: Any) -> Keystone:
    """As the second tenant's user (skips without --alt-cloud)."""
    return Keystone(alt_conn, schemas)
