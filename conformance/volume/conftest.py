"""Fixtures of the block-storage tests: a :class:`~.cinder.Cinder` per cloud
role, and the shared volume.

Tests that only read share one 1 GiB volume per module (``volume``);
tests that change a volume create their own (or share one per module,
restoring what they change). Module-scoped fixtures keep
their own :class:`~octoprobe.resources.ResourceRegistry`: what they create
is deleted (and waited for) when the module ends, and a failed deletion is
an error of the test that ends it.
"""

from __future__ import annotations

from typing import Any

import pytest

from octoprobe.resources import ResourceRegistry

from .cinder import Cinder


@pytest.fixture(scope="session")
def cinder(conn: Any, schemas: Any, run: Any) -> Cinder:
    """Block-storage operations as the user of the cloud under test."""
    return Cinder(conn, schemas, run)


@pytest.fixture(scope="session")
def alt_cinder(alt_conn: Any, schemas: Any, run: Any) -> Cinder:
    """As the second tenant's user (skips without --alt-cloud)."""
    return Cinder(alt_conn, schemas, run)


@pytest.fixture(scope="session")
def admin_cinder(admin_conn: Any, schemas: Any, run: Any) -> Cinder:
    """As the admin cloud's user (skips without --admin-cloud)."""
    return Cinder(admin_conn, schemas, run)


@pytest.fixture(scope="module")
def volume(cinder: Cinder, module_resources: ResourceRegistry) -> dict[str, Any]:
    """The module's shared volume, available: 1 GiB, run-tagged, with a
    description and one metadata item besides the run's. Tests only read it,
    except in a module that says otherwise (``test_metadata``: its items)."""
    return cinder.create_volume(module_resources, description="octoprobe shared volume",
                                metadata={"octoprobe-purpose": "shared"})
