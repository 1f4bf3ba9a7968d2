"""What the API service needs to know to run: where it listens, what URL
clients use, where its state is, and how long tokens live."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

DEFAULT_PORT = 80
DEFAULT_REGION = "RegionOne"
DEFAULT_TOKEN_TTL = 3600.0  # Keystone's default [token] expiration


@dataclass(frozen=True)
class ApiSettings:
    state_dir: Path  # the cloud's state directory (the API keeps <state>/api/)
    prefix: str  # the cloud's kernel-object prefix
    host: str  # the address clients reach (the control host's underlay IPv4)
    port: int = DEFAULT_PORT
    region: str = DEFAULT_REGION
    token_ttl: float = DEFAULT_TOKEN_TTL
    database: Path | None = None  # default <state>/api/api.db

    @property
    def base_url(self) -> str:
        return f"http://{self.host}" + ("" if self.port == 80 else f":{self.port}")

    @property
    def api_dir(self) -> Path:
        return Path(self.state_dir) / "api"

    @property
    def db_path(self) -> Path:
        return Path(self.database) if self.database is not None else self.api_dir / "api.db"

    @property
    def log_path(self) -> Path:
        return self.api_dir / "api.log"

    @property
    def pid_file(self) -> Path:
        return self.api_dir / "api.pid"
