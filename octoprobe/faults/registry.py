"""Fault drivers by name: octoprobe's own and those of plugins
(``fault_drivers`` of an ``octoprobe.plugins`` entry point, see
:mod:`octoprobe.plugins`). A plugin cannot replace a built-in driver."""

from __future__ import annotations

from importlib import import_module
from typing import Any, Callable

from .base import FaultError

__all__ = ["BUILTIN_DRIVERS", "fault_drivers", "fault_driver"]

#: name -> "module:attribute", imported when asked for
BUILTIN_DRIVERS = {
    "reference": "octoprobe.faults.reference:ReferenceCloudDriver",
    "ssh-osd": "octoprobe.faults.ssh:SshOsdDriver",
    "lab": "octoprobe.faults.lab:LabFaultDriver",
}


def _builtin(spec: str) -> Callable[..., Any]:
    module, _, attribute = spec.partition(":")
    return getattr(import_module(module), attribute)


def fault_drivers(plugins: Any = None) -> dict[str, str]:
    """Driver name -> where it comes from."""
    from octoprobe.plugins import discover

    found = {name: f"octoprobe ({spec})" for name, spec in BUILTIN_DRIVERS.items()}
    for plugin in discover() if plugins is None else plugins:
        for name in plugin.fault_drivers:
            found.setdefault(name, plugin.source)
    return found


def fault_driver(name: str, plugins: Any = None) -> Callable[..., Any]:
    """The factory of driver ``name``; an unknown name lists the known ones."""
    if name in BUILTIN_DRIVERS:
        return _builtin(BUILTIN_DRIVERS[name])
    from octoprobe.plugins import PluginError, discover

    try:
        loaded = discover() if plugins is None else plugins
    except PluginError as exc:
        raise FaultError(f"fault driver {name!r}: {exc}") from exc
    for plugin in loaded:
        if name in plugin.fault_drivers:
            return plugin.fault_drivers[name]
    raise FaultError(f"no fault driver named {name!r}; known: {', '.join(sorted(fault_drivers(loaded)))}")
