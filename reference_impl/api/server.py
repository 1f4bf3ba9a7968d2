"""The API process: ``python -m octoprobe.reference_impl.api.server``.

``octoprobe cloud up`` starts it in the control host's namespace; it logs
one line per request to ``<state>/api/api.log`` (no bodies, no tokens)."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

import uvicorn

from .app import build_app
from .backend import Backend
from .db import Database
from .services import all_schemas, all_services
from .settings import DEFAULT_PORT, DEFAULT_TOKEN_TTL, ApiSettings


def make_app(settings: ApiSettings, *, cloud_factory=None):
    db = Database.open(settings.db_path, all_schemas())
    backend = Backend(settings, db, cloud_factory=cloud_factory)
    backend.identity.ensure_defaults()
    return build_app(backend, all_services())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="octoprobe-api", description=__doc__)
    parser.add_argument("--state-dir", required=True, type=Path)
    parser.add_argument("--prefix", required=True)
    parser.add_argument("--host", required=True, help="the address to listen on and to publish")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    parser.add_argument("--token-ttl", type=float, default=DEFAULT_TOKEN_TTL)
    parser.add_argument("--db", type=Path, default=None, help="the SQLite file (default <state>/api/api.db)")
    args = parser.parse_args(argv)
    settings = ApiSettings(state_dir=args.state_dir, prefix=args.prefix, host=args.host, port=args.port,
                           token_ttl=args.token_ttl, database=args.db)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s",
                        stream=sys.stderr)
    app = make_app(settings)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning", access_log=False,
                timeout_graceful_shutdown=5)
    return 0


if __name__ == "__main__":
    sys.exit(main())
