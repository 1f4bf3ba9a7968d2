"""Who is calling: the identity a validated token stands for."""

from __future__ import annotations

from dataclasses import dataclass, field

ADMIN = "admin"
MEMBER = "member"
READER = "reader"
ROLE_NAMES = (ADMIN, MEMBER, READER)


@dataclass(frozen=True)
class RequestContext:
    user_id: str
    user_name: str
    project_id: str
    project_name: str
    domain_id: str
    roles: frozenset[str]
    token_id: str = field(repr=False, default="")
    expires_at: float = 0.0
    auth_methods: tuple[str, ...] = ("password",)
    app_cred_id: str | None = None

    @property
    def is_admin(self) -> bool:
        return ADMIN in self.roles

    @property
    def can_write(self) -> bool:
        """Readers read; members and admins also write."""
        return bool(self.roles & {ADMIN, MEMBER})

    def owns(self, project_id: str | None) -> bool:
        return self.is_admin or project_id == self.project_id
