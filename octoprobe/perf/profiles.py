"""Gate profiles: what a cloud promises, as thresholds on statistics of metrics.

A profile is a YAML file::

    profile: dreamcompute
    description: what DreamCompute promises
    regression_tolerance: 0.05      # optional; relative, used against a baseline
    gates:
      - name: boot_to_ssh_p95
        metric: boot.ssh            # the samples' metric name
        statistic: p95              # one of octoprobe.perf.stats.STATISTICS
        max: 40                     # or min: (exactly one of them)
        unit: s                     # optional; the samples' unit, checked when judging
        where: {source: image}      # optional; only samples whose metadata match
        description: ...            # optional
        required: true              # optional; false: no samples is "not measured", not a failure

It is loaded with :mod:`octoprobe.config_yaml`, so every error names the
file, the line and the key. :func:`load_profile` takes a path or a name: the
profiles shipped in ``octoprobe/perf/profiles/`` and those other packages
register under the entry-point group :data:`ENTRY_POINT_GROUP`. Such an entry
point names an object (or a function returning one) that is either a
directory (a path or a :class:`~importlib.resources.abc.Traversable`) whose
``*.yaml`` files are profiles named by their stem, or a mapping name → file.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any, Mapping

from octoprobe.config_yaml import (
    MAPPING,
    SCALAR,
    ConfigError,
    Node,
    as_bool,
    as_list,
    as_str,
    check_keys,
    describe,
    load_file,
    load_text,
)
from octoprobe.perf.stats import STATISTICS

__all__ = [
    "ENTRY_POINT_GROUP",
    "DEFAULT_TOLERANCE",
    "GateSpec",
    "Profile",
    "ProfileNotFound",
    "available_profiles",
    "load_profile",
    "parse_profile",
]

ENTRY_POINT_GROUP = "octoprobe.plugins"  # a plugin's ``profiles`` attribute (see octoprobe.plugins)
DEFAULT_TOLERANCE = 0.05
_SUFFIXES = (".yaml", ".yml")
# YAML 1.1 reads 1e9 (no dot) as a string; such a threshold is taken as the number it spells.
_NUMBER_RE = re.compile(r"[+-]?(\d[\d_]*)?\.?\d*([eE][+-]?\d+)?")


class ProfileNotFound(LookupError):
    """No profile of that name (the message lists the available ones)."""


@dataclass(frozen=True)
class GateSpec:
    """One gate of a profile: ``statistic`` of ``metric`` must be at most
    (``direction == "max"``) or at least (``"min"``) ``threshold``."""

    name: str
    metric: str
    statistic: str
    threshold: float
    direction: str  # "max" | "min"
    unit: str = ""
    where: Mapping[str, Any] = field(default_factory=dict)
    description: str = ""
    required: bool = True
    line: int | None = None  # where the gate is written, for messages

    @property
    def comparison(self) -> str:
        """``<=`` for a max gate, ``>=`` for a min gate (as in report.model.Gate)."""
        return "<=" if self.direction == "max" else ">="

    def holds(self, measured: float) -> bool:
        return measured <= self.threshold if self.direction == "max" else measured >= self.threshold


@dataclass(frozen=True)
class Profile:
    name: str
    gates: tuple[GateSpec, ...]
    description: str = ""
    regression_tolerance: float = DEFAULT_TOLERANCE
    source: str = ""  # the file it came from

    def gate(self, name: str) -> GateSpec:
        for gate in self.gates:
            if gate.name == name:
                return gate
        raise KeyError(f"no gate {name!r} in profile {self.name!r}")


# ---------------------------------------------------------------- finding


def _shipped() -> dict[str, Traversable]:
    folder = resources.files("octoprobe.perf") / "profiles"
    return _yaml_files(folder)


def _yaml_files(folder: Traversable | Path) -> dict[str, Traversable]:
    if not folder.is_dir():
        return {}
    found = {}
    for entry in folder.iterdir():
        name = entry.name
        if entry.is_file() and name.endswith(_SUFFIXES):
            found[name.rsplit(".", 1)[0]] = entry
    return dict(sorted(found.items()))


def _from_plugin(obj: object, where: str) -> dict[str, Traversable]:
    if isinstance(obj, (str, os.PathLike)):
        obj = Path(obj)
    if isinstance(obj, Mapping):
        return {str(name): Path(p) if isinstance(p, (str, os.PathLike)) else p for name, p in obj.items()}
    if isinstance(obj, (Path, Traversable)):
        return _yaml_files(obj)
    raise ProfileNotFound(f"{where} gave profiles as {type(obj).__name__}, expected a directory or a mapping "
                          "name -> file")


def _plugins() -> dict[str, tuple[Traversable, str]]:
    from octoprobe.plugins import PluginError, discover

    found: dict[str, tuple[Traversable, str]] = {}
    try:
        plugins = discover()
    except PluginError as exc:
        raise ProfileNotFound(str(exc)) from exc
    for plugin in plugins:
        if plugin.profiles is None:
            continue
        for name, file in _from_plugin(plugin.profiles, plugin.source).items():
            found.setdefault(name, (file, f"entry point {plugin.name}"))
    return found


def _all_profiles() -> dict[str, tuple[Traversable, str]]:
    # Shipped profiles come first: a plugin cannot shadow one.
    found = {name: (file, "shipped") for name, file in _shipped().items()}
    for name, entry in _plugins().items():
        found.setdefault(name, entry)
    return found


def available_profiles() -> dict[str, str]:
    """Profile name -> where it comes from (``shipped: <file>`` or ``entry point <name>: <file>``)."""
    return {name: f"{origin}: {file}" for name, (file, origin) in sorted(_all_profiles().items())}


def _looks_like_path(text: str) -> bool:
    return text.endswith(_SUFFIXES) or os.sep in text or "/" in text


def load_profile(name_or_path: str | os.PathLike[str]) -> Profile:
    """A profile from a ``.yaml`` path, a shipped name or a plugin's name.

    ConfigError (file:line: key: message) if the file is wrong;
    ProfileNotFound listing the available names if the name is unknown.
    """
    if isinstance(name_or_path, os.PathLike) or _looks_like_path(name_or_path):
        return parse_profile(load_file(name_or_path))
    name = name_or_path
    shipped = _shipped()
    if name in shipped:
        return _load_traversable(shipped[name])
    known = _all_profiles()
    if name not in known:
        names = ", ".join(sorted(known)) or "none"
        raise ProfileNotFound(f"no gate profile named {name!r}; available: {names} (or give a path to a .yaml file)")
    return _load_traversable(known[name][0])


def _load_traversable(file: Traversable) -> Profile:
    if isinstance(file, Path):
        return parse_profile(load_file(file))
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read the file: {exc}", path=str(file)) from None
    return parse_profile(load_text(text, str(file)))


# ---------------------------------------------------------------- parsing

_TOP_KEYS = ("description", "regression_tolerance")
_GATE_KEYS = ("max", "min", "unit", "where", "description", "required")


def parse_profile(root: Node) -> Profile:
    """Check a loaded profile document and build the :class:`Profile`."""
    top = check_keys(root, allowed=_TOP_KEYS, required=("profile", "gates"))
    name = _nonempty_str(top["profile"])
    description = as_str(top["description"]) if "description" in top else ""
    tolerance = DEFAULT_TOLERANCE
    if "regression_tolerance" in top:
        tolerance = _number(top["regression_tolerance"])
        if not 0 <= tolerance < 1:
            raise top["regression_tolerance"].error(
                f"must be a fraction between 0 and 1 (0.05 is 5 %), got {tolerance:g}"
            )
    items = as_list(top["gates"])
    if not items:
        raise top["gates"].error("a profile needs at least one gate", at_key=True)
    gates: list[GateSpec] = []
    first_line: dict[str, int] = {}
    for item in items:
        gate, name_node = _parse_gate(item)
        if gate.name in first_line:
            raise name_node.error(f"duplicate gate name {gate.name!r} (first used on line {first_line[gate.name]})")
        first_line[gate.name] = name_node.line
        gates.append(gate)
    return Profile(name, tuple(gates), description, tolerance, root.path)


def _parse_gate(node: Node) -> tuple[GateSpec, Node]:
    fields = check_keys(node, allowed=_GATE_KEYS, required=("name", "metric", "statistic"))
    statistic_node = fields["statistic"]
    statistic = as_str(statistic_node)
    if statistic not in STATISTICS:
        raise statistic_node.error(f"unknown statistic {statistic!r}; one of {', '.join(STATISTICS)}")
    bounds = [name for name in ("max", "min") if name in fields]
    if not bounds:
        raise ConfigError(
            "missing threshold: give either max: (must be at most) or min: (must be at least)",
            path=node.path,
            line=node.line,
            key=node.child_key("max"),
        )
    if len(bounds) == 2:
        later = max((fields["max"], fields["min"]), key=lambda n: n.key_line or n.line)
        raise later.error("give either max: or min:, not both", at_key=True)
    direction = bounds[0]
    gate = GateSpec(
        name=_nonempty_str(fields["name"]),
        metric=_nonempty_str(fields["metric"]),
        statistic=statistic,
        threshold=_number(fields[direction]),
        direction=direction,
        unit=as_str(fields["unit"]) if "unit" in fields else "",
        where=_where(fields["where"]) if "where" in fields else {},
        description=as_str(fields["description"]) if "description" in fields else "",
        required=as_bool(fields["required"]) if "required" in fields else True,
        line=node.line,
    )
    return gate, fields["name"]


def _nonempty_str(node: Node) -> str:
    text = as_str(node)
    if not text.strip():
        raise node.error("must not be empty")
    return text


def _number(node: Node) -> float:
    value = node.value
    if node.kind == SCALAR and isinstance(value, str) and value.strip() and _NUMBER_RE.fullmatch(value.strip()):
        try:
            value = float(value.replace("_", ""))
        except ValueError:
            pass
    if node.kind != SCALAR or isinstance(value, bool) or not isinstance(value, (int, float)):
        hint = ""
        if isinstance(value, str):
            hint = " (a plain number in the gate's unit, e.g. 20_000_000 for 20 MB/s in B/s)"
        raise node.error(f"expected a number, got {describe(node)}{hint}")
    if value != value or value in (float("inf"), float("-inf")):
        raise node.error(f"expected a finite number, got {value}")
    return float(value)


def _where(node: Node) -> dict[str, Any]:
    if node.is_null:
        return {}
    if node.kind != MAPPING:
        raise node.error(f"expected a mapping of metadata key: value, got {describe(node)}")
    out = {}
    for key, child in node.value.items():
        if child.kind != SCALAR or child.value is None:
            raise child.error(f"expected a plain value to match, got {describe(child)}")
        out[key] = child.value
    return out
