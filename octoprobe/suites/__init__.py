"""The three suites, shipped inside the distribution: ``octoprobe.suites.conformance``,
``.perf`` and ``.chaos`` are the checkout's top-level ``conformance/``,
``perf/`` and ``chaos/`` directories (mapped in pyproject.toml), so
``pip install octoprobe && octoprobe run`` finds them outside a checkout."""

from __future__ import annotations

import importlib.util
from pathlib import Path

SUITES = ("conformance", "perf", "chaos")


class SuiteNotFound(LookupError):
    pass


def suite_dir(name: str) -> Path:
    """The directory of suite ``name`` (a checkout's, or the installed copy)."""
    if name not in SUITES:
        raise SuiteNotFound(f"unknown suite {name!r}; suites: {', '.join(SUITES)}")
    try:
        spec = importlib.util.find_spec(f"{__name__}.{name}")
    except ImportError:
        spec = None
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    for location in locations:
        if (Path(location) / "conftest.py").is_file():
            return Path(location)
    checkout = Path(__file__).resolve().parents[2] / name  # a source tree without an install
    if (checkout / "conftest.py").is_file():
        return checkout
    raise SuiteNotFound(f"suite {name!r} is not in this installation of octoprobe (looked in "
                        f"{', '.join(locations) or 'the package'} and {checkout}); reinstall it")


def has_tests(directory: Path) -> bool:
    return any(directory.rglob("test_*.py"))
