"""Shared by every test: the tests are hermetic.

* The reference clouds the tests bring up write their ``clouds.yaml``
  entries into a temporary file, never into the user's
  ``~/.config/openstack/clouds.yaml`` (unless OCTOPROBE_CLOUDS_YAML says where).
* What selects a cloud in the caller's environment — ``OS_*`` (OS_CLOUD,
  OS_CLIENT_CONFIG_FILE, OS_AUTH_URL …) and OCTOPROBE_STATE_DIR /
  OCTOPROBE_PREFIX (a reference cloud of the user's) — is removed, so a
  developer's own cloud is neither used nor touched by ``make test``; tests
  that need such variables set them themselves.
"""

from __future__ import annotations

import os
import tempfile

SELECTS_A_CLOUD = ("OCTOPROBE_STATE_DIR", "OCTOPROBE_PREFIX")


def pytest_configure(config) -> None:
    for name in list(os.environ):
        if name.startswith("OS_") or name in SELECTS_A_CLOUD:
            del os.environ[name]
    if "OCTOPROBE_CLOUDS_YAML" not in os.environ:
        directory = tempfile.mkdtemp(prefix="octoprobe-tests-")
        os.environ["OCTOPROBE_CLOUDS_YAML"] = os.path.join(directory, "clouds.yaml")
