"""Shared by every test: the reference clouds the tests bring up write their
``clouds.yaml`` entries into a temporary file, never into the user's
``~/.config/openstack/clouds.yaml`` (unless OCTOPROBE_CLOUDS_YAML says where)."""

from __future__ import annotations

import os
import tempfile


def pytest_configure(config) -> None:
    if "OCTOPROBE_CLOUDS_YAML" not in os.environ:
        directory = tempfile.mkdtemp(prefix="octoprobe-tests-")
        os.environ["OCTOPROBE_CLOUDS_YAML"] = os.path.join(directory, "clouds.yaml")
