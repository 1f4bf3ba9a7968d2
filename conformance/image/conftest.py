"""Fixtures of the image tests: a :class:`~.glance.Glance` per cloud role."""

from __future__ import annotations

from typing import Any

import pytest

from .glance import Glance


@pytest.fixture(scope="session")
def glance(conn: Any, schemas: Any, run: Any) -> Glance:
    """Image operations as the user of the cloud under test."""
    return Glance(conn, schemas, run)


@pytest.fixture(scope="session")
def alt_glance(alt_conn: Any, schemas: Any, run: Any) -> Glance:
    """As the second tenant's user (skips without --alt-cloud)."""
    return Glance(alt_conn, schemas, run)
