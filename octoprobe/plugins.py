"""Third-party extensions, the way Tempest plugins extend Tempest.

A package extends octoprobe by declaring an entry point in the group
``octoprobe.plugins``::

    [project.entry-points."octoprobe.plugins"]
    acme = "acme_octoprobe"

The entry point names an object (usually a module; a callable is called
first) with any of these attributes:

``suites``
    suite name (``conformance``, ``perf``, ``chaos``) → a test directory, or
    several: ``octoprobe run`` runs them in that suite's session, with all
    of octoprobe's fixtures, markers and options;
``profiles``
    gate profiles: a directory of ``*.yaml`` (named by their stem) or a
    mapping name → file (see :mod:`octoprobe.perf.profiles`; a shipped
    profile cannot be shadowed);
``fault_drivers``
    driver name → factory, for the chaos suite's fault interface
    (:func:`octoprobe.faults.fault_driver`).

A plugin that fails to load, or gives something of the wrong shape, is an
error that names its entry point.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping

__all__ = ["GROUP", "Plugin", "PluginError", "discover", "suite_paths"]

GROUP = "octoprobe.plugins"
SUITE_NAMES = ("conformance", "perf", "chaos")


class PluginError(RuntimeError):
    pass


@dataclass(frozen=True)
class Plugin:
    name: str
    source: str  # "entry point acme (acme_octoprobe) of distribution acme-octoprobe 1.0"
    suites: dict[str, tuple[Path, ...]] = field(default_factory=dict)
    profiles: Any = None  # a directory, a Traversable or a mapping name -> file
    fault_drivers: dict[str, Callable[..., Any]] = field(default_factory=dict)


def _source(ep: metadata.EntryPoint) -> str:
    dist = getattr(ep, "dist", None)
    owner = f" of distribution {dist.name} {dist.version}" if dist is not None else ""
    return f"entry point {ep.name!r} ({ep.value}) in group {GROUP}{owner}"


def _paths(value: Any, where: str) -> tuple[Path, ...]:
    items = [value] if isinstance(value, (str, os.PathLike)) else value
    if not isinstance(items, Iterable):
        raise PluginError(f"{where}: expected a directory or a list of them, got {type(value).__name__}")
    paths = tuple(Path(p) for p in items)
    missing = [str(p) for p in paths if not p.is_dir()]
    if missing:
        raise PluginError(f"{where}: no such test directory {', '.join(missing)}")
    return paths


def load(ep: metadata.EntryPoint) -> Plugin:
    where = _source(ep)
    try:
        obj = ep.load()
        if callable(obj):
            obj = obj()
    except Exception as exc:  # a broken plugin must say which one it is
        raise PluginError(f"{where} failed to load: {type(exc).__name__}: {exc}") from exc
    suites = getattr(obj, "suites", None) or {}
    if not isinstance(suites, Mapping):
        raise PluginError(f"{where}: 'suites' must map a suite name to test directories")
    unknown = sorted(set(suites) - set(SUITE_NAMES))
    if unknown:
        raise PluginError(f"{where}: unknown suite(s) {', '.join(unknown)} (suites: {', '.join(SUITE_NAMES)})")
    drivers = getattr(obj, "fault_drivers", None) or {}
    if not isinstance(drivers, Mapping) or not all(callable(f) for f in drivers.values()):
        raise PluginError(f"{where}: 'fault_drivers' must map a driver name to a factory")
    return Plugin(ep.name, where, {s: _paths(p, f"{where}: suites[{s!r}]") for s, p in suites.items()},
                  getattr(obj, "profiles", None), dict(drivers))


def discover(entry_points: Callable[..., Any] | None = None) -> list[Plugin]:
    """Every installed plugin, by entry-point name."""
    found = (entry_points or metadata.entry_points)(group=GROUP)
    return [load(ep) for ep in sorted(found, key=lambda e: e.name)]


def suite_paths(suite: str, plugins: Iterable[Plugin] | None = None) -> list[Path]:
    """The plugins' extra test directories of ``suite``."""
    return [p for plugin in (discover() if plugins is None else plugins) for p in plugin.suites.get(suite, ())]
