"""Read-only model of Ceph cluster state, from ``ceph … --format json``.

- :mod:`.model` — frozen dataclasses (ClusterStatus, OsdTree, PgInfo, …)
- :mod:`.parse` — pure parsers, one per command output
- :mod:`.client` — :class:`CephClient` over the ``ceph`` CLI through a Runner
  (and :meth:`CephClient.flush_pg_stats`, to make ``ceph status`` current)
- :mod:`.rbd` — :class:`RbdClient` over the ``rbd`` CLI
- :mod:`.wait` — :func:`wait_for_clean`, with a no-progress deadline
"""

from .client import CephClient, ClusterSnapshot, PgStatsFlushTimeout
from .model import (
    Capacity,
    ClusterStatus,
    CrushNode,
    CrushRule,
    DfReport,
    Health,
    HealthCheck,
    ImageRef,
    IoRates,
    ObjectCounters,
    OsdCounts,
    OsdInfo,
    OsdTree,
    OsdUsage,
    ParentRef,
    PgInfo,
    PgSummary,
    PoolInfo,
    PoolStats,
    RbdImageInfo,
    RbdSnapshot,
)
from .parse import (
    CephError,
    CephParseError,
    parse_crush_rule_dump,
    parse_df,
    parse_flush_pg_stats,
    parse_health_detail,
    parse_last_stat_seq,
    parse_osd_df,
    parse_osd_tree,
    parse_pgs_brief,
    parse_pool_ls_detail,
    parse_rbd_children,
    parse_rbd_info,
    parse_rbd_ls,
    parse_rbd_snap_ls,
    parse_status,
)
from .rbd import RbdClient
from .wait import CephWaitTimeout, TimelinePoint, WaitResult, wait_for_clean

__all__ = [
    "Capacity",
    "CephClient",
    "CephError",
    "CephParseError",
    "CephWaitTimeout",
    "ClusterSnapshot",
    "ClusterStatus",
    "CrushNode",
    "CrushRule",
    "DfReport",
    "Health",
    "HealthCheck",
    "ImageRef",
    "IoRates",
    "ObjectCounters",
    "OsdCounts",
    "OsdInfo",
    "OsdTree",
    "OsdUsage",
    "ParentRef",
    "PgInfo",
    "PgStatsFlushTimeout",
    "PgSummary",
    "PoolInfo",
    "PoolStats",
    "RbdClient",
    "RbdImageInfo",
    "RbdSnapshot",
    "TimelinePoint",
    "WaitResult",
    "parse_crush_rule_dump",
    "parse_df",
    "parse_flush_pg_stats",
    "parse_health_detail",
    "parse_last_stat_seq",
    "parse_osd_df",
    "parse_osd_tree",
    "parse_pgs_brief",
    "parse_pool_ls_detail",
    "parse_rbd_children",
    "parse_rbd_info",
    "parse_rbd_ls",
    "parse_rbd_snap_ls",
    "parse_status",
    "wait_for_clean",
]
