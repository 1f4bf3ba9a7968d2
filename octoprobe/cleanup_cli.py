"""``octoprobe cleanup``: delete what an interrupted run left on a cloud.

Only resources that carry an octoprobe run tag are touched; ``--run`` limits
the sweep to one run, ``--dry-run`` lists without deleting.
"""

from __future__ import annotations

import sys

from octoprobe.config_yaml import ConfigError
from octoprobe.resources import Sweeper
from octoprobe.target import resolve_cloud


def add_command(commands) -> None:
    cleanup = commands.add_parser(
        "cleanup",
        help="delete the resources of interrupted runs (only those carrying an octoprobe tag)",
        description=__doc__,
    )
    cleanup.add_argument("--cloud", metavar="NAME",
                         help="clouds.yaml entry (default: $OS_CLOUD, else 'octoprobe')")
    cleanup.add_argument("--run", metavar="ID", help="only the resources of this run")
    cleanup.add_argument("--dry-run", action="store_true", help="list what would be deleted, delete nothing")
    cleanup.add_argument("--timeout", type=float, default=600.0, metavar="SECONDS",
                         help="how long to wait for each kind of resource to be gone (default 600)")
    cleanup.set_defaults(handler=run)


def run(args) -> int:
    try:
        target = resolve_cloud(args.cloud)
        sweeper = Sweeper(target.connect(), run_id=args.run, timeout=args.timeout)
    except (ConfigError, ValueError) as exc:
        print(f"octoprobe: error: {exc}", file=sys.stderr)
        return 2
    report = sweeper.sweep(dry_run=args.dry_run)
    print(report.render())
    return 0 if report.ok else 1
