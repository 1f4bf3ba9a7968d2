"""The ``octoprobe`` command line."""

from __future__ import annotations

import argparse
import sys

from octoprobe import __version__


def build_parser() -> argparse.ArgumentParser:
    from octoprobe import cleanup_cli, history_cli, run_cli
    from octoprobe.reference_impl import cli as cloud_cli
    from octoprobe.tempest import cli as tempest_cli

    parser = argparse.ArgumentParser(
        prog="octoprobe",
        description="Qualify OpenStack + Ceph clouds: conformance, performance and chaos suites.",
    )
    parser.add_argument("--version", action="version", version=f"octoprobe {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    cloud_cli.add_commands(commands)
    cleanup_cli.add_command(commands)
    tempest_cli.add_command(commands)
    run_cli.add_command(commands)
    history_cli.add_commands(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    return args.handler(args)


if __name__ == "__main__":
    sys.exit(main())
