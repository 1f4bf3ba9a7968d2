"""What the oracle needs, read from a live cluster through the ``ceph`` CLI.

The reading is here, the judging is in :mod:`.oracle`; the two small parsers
below are pure and tested on recorded outputs.

Settings come from the running monitor (``ceph tell mon.ID config get KEY``),
not from a config file: that is what the monitor acts on, whether the value
was set in ``ceph.conf``, in the config database or left at its default.
"""

from __future__ import annotations

from typing import Any, Mapping

from octoprobe.ceph import CephClient
from octoprobe.ceph.parse import CephParseError

from .oracle import CephSettings, OracleInputs

__all__ = ["MON_SETTINGS", "parse_osd_dump_ratios", "parse_osd_dump_laggy", "parse_config_get", "settings_from", "gather"]

#: Monitor settings the oracle uses: option name -> CephSettings field.
MON_SETTINGS: Mapping[str, str] = {
    "mon_osd_down_out_interval": "down_out_interval",
    "mon_osd_down_out_subtree_limit": "down_out_subtree_limit",
    "mon_osd_min_in_ratio": "min_in_ratio",
    "mon_osd_adjust_down_out_interval": "adjust_down_out_interval",
}


def parse_osd_dump_ratios(doc: Any) -> dict[str, Any]:
    """``ceph osd dump --format json`` → flags and full ratios."""
    if not isinstance(doc, dict):
        raise CephParseError("ceph osd dump", "expected an object")
    out: dict[str, Any] = {"flags": tuple(f for f in str(doc.get("flags", "")).split(",") if f)}
    for key in ("nearfull_ratio", "backfillfull_ratio", "full_ratio"):
        if key not in doc:
            raise CephParseError("ceph osd dump", f"missing {key}")
        out[key] = float(doc[key])
    return out


def parse_osd_dump_laggy(doc: Any) -> dict[int, tuple[float, float]]:
    """``ceph osd dump --format json`` → OSD id → (laggy_probability,
    laggy_interval): the monitor lengthens the down-out grace of OSDs that
    have come back before (``mon_osd_adjust_down_out_interval``)."""
    if not isinstance(doc, dict):
        raise CephParseError("ceph osd dump", "expected an object")
    out = {}
    for i, x in enumerate(doc.get("osd_xinfo", [])):
        try:
            out[int(x["osd"])] = (float(x.get("laggy_probability", 0)), float(x.get("laggy_interval", 0)))
        except (KeyError, TypeError, ValueError):
            raise CephParseError("ceph osd dump", f"osd_xinfo[{i}] is malformed: {x!r:.80}") from None
    return out


def parse_config_get(doc: Any, key: str) -> str:
    """``ceph tell mon.X config get KEY --format json`` → ``{"KEY": "value"}``."""
    if not isinstance(doc, dict) or key not in doc:
        raise CephParseError(f"ceph tell mon config get {key}", f"expected an object with {key}")
    return str(doc[key])


def settings_from(osd_dump: Any, config: Mapping[str, str]) -> CephSettings:
    """CephSettings from ``osd dump`` and the monitor's option values."""
    ratios = parse_osd_dump_ratios(osd_dump)
    return CephSettings(
        down_out_interval=float(config["mon_osd_down_out_interval"]),
        down_out_subtree_limit=config["mon_osd_down_out_subtree_limit"],
        min_in_ratio=float(config["mon_osd_min_in_ratio"]),
        adjust_down_out_interval=config.get("mon_osd_adjust_down_out_interval", "true").lower() == "true",
        nearfull_ratio=ratios["nearfull_ratio"],
        backfillfull_ratio=ratios["backfillfull_ratio"],
        full_ratio=ratios["full_ratio"],
        noout="noout" in ratios["flags"],
    )


def gather(client: CephClient, *, with_pgs: bool = True) -> OracleInputs:
    """Everything the oracle needs, read now."""
    status = client.status()
    if not status.quorum:
        raise CephParseError("ceph status", "no monitor in quorum to ask for its settings")
    mon = status.quorum[0]
    config = {key: parse_config_get(client.command("tell", f"mon.{mon}", "config", "get", key), key)
              for key in MON_SETTINGS}
    osd_dump = client.command("osd", "dump")
    return OracleInputs(
        tree=client.osd_tree(),
        pools=client.pools(),
        rules=client.crush_rules(),
        usage=client.osd_df(),
        settings=settings_from(osd_dump, config),
        pgs=client.pgs() if with_pgs else (),
        laggy=parse_osd_dump_laggy(osd_dump),
    )
