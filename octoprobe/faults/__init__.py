"""Faults behind one small interface (inject / heal / status), and the guard
that heals them whatever happens.

- :mod:`.base` — :class:`FaultSpec` (what fails), :class:`FaultPlan` (what
  inject and heal will do), :class:`Fault` (the interface), :class:`FaultDriver`
- :mod:`.reference` — drivers for the bundled reference cloud
- :mod:`.lab` — the driver for a lab described by an inventory, dispatching
  to :mod:`.ssh` (OSDs over SSH), :mod:`.power` (IPMI/Redfish) and
  :mod:`.switch` (switch ports)
- :mod:`.guard` — :class:`FaultGuard` and its journal: healing in teardown,
  on SIGINT, and after a crash
- :mod:`.registry` — drivers by name (:func:`fault_driver`), octoprobe's and
  those plugins add (:mod:`octoprobe.plugins`)

Every driver implements the same :class:`FaultDriver` protocol.
"""

from .base import (
    ADD_HOST,
    DISK,
    FLAP,
    KINDS,
    NODE,
    PARTITION,
    RACK,
    ComponentState,
    Fault,
    FaultDriver,
    FaultError,
    FaultPlan,
    FaultUnsupported,
    FaultSpec,
    FaultStatus,
)
from .guard import FaultGuard, FaultJournal, interrupts_deferred
from .registry import fault_driver, fault_drivers

__all__ = [
    "fault_driver",
    "fault_drivers",
    "ADD_HOST",
    "DISK",
    "FLAP",
    "KINDS",
    "NODE",
    "PARTITION",
    "RACK",
    "ComponentState",
    "Fault",
    "FaultDriver",
    "FaultError",
    "FaultUnsupported",
    "FaultGuard",
    "FaultJournal",
    "FaultPlan",
    "FaultSpec",
    "FaultStatus",
    "interrupts_deferred",
]
