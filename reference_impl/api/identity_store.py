"""Keystone's data: domains, projects, users, roles, role assignments, tokens
and application credentials, in the API's SQLite database.

Tokens are opaque random strings; only their SHA-256 is stored. A token's
roles are read at every validation, so removing a role takes effect at once.
Passwords and application-credential secrets are stored as salted PBKDF2
hashes.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from . import errors as E
from .context import ROLE_NAMES, RequestContext
from .db import Database, dumps, hex_id, loads, now

DEFAULT_DOMAIN = "default"
PBKDF2_ITERATIONS = 20_000  # a reference cloud: cheap enough to benchmark token issue

SCHEMA = """
CREATE TABLE IF NOT EXISTS domains (
    id TEXT PRIMARY KEY, name TEXT UNIQUE NOT NULL, description TEXT NOT NULL DEFAULT '',
    enabled INTEGER NOT NULL DEFAULT 1);
CREATE TABLE IF NOT EXISTS projects (
    id TEXT PRIMARY KEY, name TEXT NOT NULL, domain_id TEXT NOT NULL REFERENCES domains(id),
    description TEXT NOT NULL DEFAULT '', enabled INTEGER NOT NULL DEFAULT 1,
    tags TEXT NOT NULL DEFAULT '[]', UNIQUE (domain_id, name));
CREATE TABLE IF NOT EXISTS users (
    id TEXT PRIMARY KEY, name TEXT NOT NULL, domain_id TEXT NOT NULL REFERENCES domains(id),
    password_hash TEXT, enabled INTEGER NOT NULL DEFAULT 1, email TEXT,
    description TEXT NOT NULL DEFAULT '', default_project_id TEXT, UNIQUE (domain_id, name));
CREATE TABLE IF NOT EXISTS roles (
    id TEXT PRIMARY KEY, name TEXT UNIQUE NOT NULL, description TEXT NOT NULL DEFAULT '');
CREATE TABLE IF NOT EXISTS assignments (
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    project_id TEXT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    role_id TEXT NOT NULL REFERENCES roles(id) ON DELETE CASCADE,
    PRIMARY KEY (user_id, project_id, role_id));
CREATE TABLE IF NOT EXISTS tokens (
    hash TEXT PRIMARY KEY, id TEXT NOT NULL, user_id TEXT NOT NULL, project_id TEXT,
    issued_at REAL NOT NULL, expires_at REAL NOT NULL, methods TEXT NOT NULL,
    app_cred_id TEXT, revoked INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS app_creds (
    id TEXT PRIMARY KEY, name TEXT NOT NULL, user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    project_id TEXT NOT NULL, secret_hash TEXT NOT NULL, description TEXT NOT NULL DEFAULT '',
    roles TEXT NOT NULL, expires_at REAL, unrestricted INTEGER NOT NULL DEFAULT 0,
    UNIQUE (user_id, name));
"""


def hash_secret(secret: str, *, salt: str | None = None) -> str:
    salt = salt or secrets.token_hex(16)
    digest = hashlib.pbkdf2_hmac("sha256", secret.encode(), bytes.fromhex(salt), PBKDF2_ITERATIONS)
    return f"pbkdf2-sha256${PBKDF2_ITERATIONS}${salt}${digest.hex()}"


def check_secret(secret: str, stored: str | None) -> bool:
    if not stored:
        return False
    try:
        _, iterations, salt, digest = stored.split("$")
        candidate = hashlib.pbkdf2_hmac("sha256", secret.encode(), bytes.fromhex(salt), int(iterations))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(candidate.hex(), digest)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class IssuedToken:
    token: str  # the secret, returned once in X-Subject-Token
    ctx: RequestContext
    issued_at: float


class IdentityStore:
    def __init__(self, db: Database, *, token_ttl: float):
        self.db = db
        self.token_ttl = token_ttl

    # -- bootstrap -----------------------------------------------------------------
    def ensure_defaults(self) -> None:
        """The Default domain and the admin, member and reader roles."""
        with self.db.tx() as c:
            c.execute("INSERT OR IGNORE INTO domains (id, name, description) VALUES (?, 'Default', "
                      "'The default domain')", (DEFAULT_DOMAIN,))
            for name in ROLE_NAMES:
                if c.execute("SELECT 1 FROM roles WHERE name = ?", (name,)).fetchone() is None:
                    c.execute("INSERT INTO roles (id, name) VALUES (?, ?)", (hex_id(), name))

    def ensure_project(self, name: str, description: str = "") -> dict:
        found = self.db.one("SELECT * FROM projects WHERE domain_id = ? AND name = ?", DEFAULT_DOMAIN, name)
        return found or self.create_project(name, DEFAULT_DOMAIN, description=description)

    def ensure_user(self, name: str, password: str, project_id: str, roles: list[str]) -> dict:
        user = self.db.one("SELECT * FROM users WHERE domain_id = ? AND name = ?", DEFAULT_DOMAIN, name)
        if user is None:
            user = self.create_user(name, DEFAULT_DOMAIN, password=password, default_project_id=project_id)
        elif not check_secret(password, user["password_hash"]):
            self.update_user(user["id"], password=password)
        for role in roles:
            self.assign(user["id"], project_id, self.role_by_name(role)["id"])
        return user

    # -- domains, projects ------------------------------------------------------------
    def domain(self, domain_id: str) -> dict:
        row = self.db.one("SELECT * FROM domains WHERE id = ?", domain_id)
        if row is None:
            raise E.NotFound(f"Could not find domain: {domain_id}.")
        return row

    def domain_by_name(self, name: str) -> dict:
        row = self.db.one("SELECT * FROM domains WHERE name = ?", name)
        if row is None:
            raise E.NotFound(f"Could not find domain: {name}.")
        return row

    def domains(self) -> list[dict]:
        return self.db.all("SELECT * FROM domains ORDER BY name")

    def project(self, project_id: str) -> dict:
        row = self.db.one("SELECT * FROM projects WHERE id = ?", project_id)
        if row is None:
            raise E.NotFound(f"Could not find project: {project_id}.")
        return row

    def project_by_name(self, name: str, domain_id: str) -> dict:
        row = self.db.one("SELECT * FROM projects WHERE name = ? AND domain_id = ?", name, domain_id)
        if row is None:
            raise E.NotFound(f"Could not find project: {name}.")
        return row

    def projects(self) -> list[dict]:
        return self.db.all("SELECT * FROM projects ORDER BY name")

    def create_project(self, name: str, domain_id: str, *, description: str = "", enabled: bool = True,
                       tags: list[str] | None = None) -> dict:
        self.domain(domain_id)
        if self.db.one("SELECT 1 FROM projects WHERE domain_id = ? AND name = ?", domain_id, name):
            raise E.Conflict(f"Conflict occurred attempting to store project - it is not permitted to "
                             f"have two projects with the same name in the same domain : {name}.")
        pid = hex_id()
        self.db.execute("INSERT INTO projects (id, name, domain_id, description, enabled, tags) "
                        "VALUES (?, ?, ?, ?, ?, ?)", pid, name, domain_id, description, int(enabled),
                        dumps(tags or []))
        return self.project(pid)

    def update_project(self, project_id: str, **changes) -> dict:
        project = self.project(project_id)
        if "name" in changes and changes["name"] != project["name"] and self.db.one(
                "SELECT 1 FROM projects WHERE domain_id = ? AND name = ?", project["domain_id"], changes["name"]):
            raise E.Conflict(f"a project named {changes['name']} exists already in this domain")
        for key in ("name", "description", "enabled", "tags"):
            if key in changes:
                value = changes[key]
                value = int(value) if key == "enabled" else dumps(value) if key == "tags" else value
                self.db.execute(f"UPDATE projects SET {key} = ? WHERE id = ?", value, project_id)
        if changes.get("enabled") is False:
            self.db.execute("UPDATE tokens SET revoked = 1 WHERE project_id = ?", project_id)
        return self.project(project_id)

    def delete_project(self, project_id: str) -> None:
        self.project(project_id)
        with self.db.tx() as c:
            c.execute("UPDATE tokens SET revoked = 1 WHERE project_id = ?", (project_id,))
            c.execute("DELETE FROM projects WHERE id = ?", (project_id,))

    # -- users --------------------------------------------------------------------------
    def user(self, user_id: str) -> dict:
        row = self.db.one("SELECT * FROM users WHERE id = ?", user_id)
        if row is None:
            raise E.NotFound(f"Could not find user: {user_id}.")
        return row

    def user_by_name(self, name: str, domain_id: str) -> dict:
        row = self.db.one("SELECT * FROM users WHERE name = ? AND domain_id = ?", name, domain_id)
        if row is None:
            raise E.NotFound(f"Could not find user: {name}.")
        return row

    def users(self) -> list[dict]:
        return self.db.all("SELECT * FROM users ORDER BY name")

    def create_user(self, name: str, domain_id: str, *, password: str | None = None, enabled: bool = True,
                    email: str | None = None, description: str = "",
                    default_project_id: str | None = None) -> dict:
        self.domain(domain_id)
        if self.db.one("SELECT 1 FROM users WHERE domain_id = ? AND name = ?", domain_id, name):
            raise E.Conflict(f"Conflict occurred attempting to store user - Duplicate entry found with "
                             f"name {name} at domain ID {domain_id}.")
        if default_project_id:
            self.project(default_project_id)
        uid = hex_id()
        self.db.execute("INSERT INTO users (id, name, domain_id, password_hash, enabled, email, description, "
                        "default_project_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?)", uid, name, domain_id,
                        hash_secret(password) if password else None, int(enabled), email, description,
                        default_project_id)
        return self.user(uid)

    def update_user(self, user_id: str, **changes) -> dict:
        user = self.user(user_id)
        if "name" in changes and changes["name"] != user["name"] and self.db.one(
                "SELECT 1 FROM users WHERE domain_id = ? AND name = ?", user["domain_id"], changes["name"]):
            raise E.Conflict(f"a user named {changes['name']} exists already in this domain")
        if "default_project_id" in changes and changes["default_project_id"]:
            self.project(changes["default_project_id"])
        for key in ("name", "enabled", "email", "description", "default_project_id"):
            if key in changes:
                value = int(changes[key]) if key == "enabled" else changes[key]
                self.db.execute(f"UPDATE users SET {key} = ? WHERE id = ?", value, user_id)
        if "password" in changes:
            self.db.execute("UPDATE users SET password_hash = ? WHERE id = ?",
                            hash_secret(changes["password"]), user_id)
        if changes.get("enabled") is False or "password" in changes:
            self.db.execute("UPDATE tokens SET revoked = 1 WHERE user_id = ?", user_id)
        return self.user(user_id)

    def delete_user(self, user_id: str) -> None:
        self.user(user_id)
        with self.db.tx() as c:
            c.execute("UPDATE tokens SET revoked = 1 WHERE user_id = ?", (user_id,))
            c.execute("DELETE FROM users WHERE id = ?", (user_id,))

    # -- roles and assignments ---------------------------------------------------------
    def role(self, role_id: str) -> dict:
        row = self.db.one("SELECT * FROM roles WHERE id = ?", role_id)
        if row is None:
            raise E.NotFound(f"Could not find role: {role_id}.")
        return row

    def role_by_name(self, name: str) -> dict:
        row = self.db.one("SELECT * FROM roles WHERE name = ?", name)
        if row is None:
            raise E.NotFound(f"Could not find role: {name}.")
        return row

    def roles(self) -> list[dict]:
        return self.db.all("SELECT * FROM roles ORDER BY name")

    def create_role(self, name: str, description: str = "") -> dict:
        if self.db.one("SELECT 1 FROM roles WHERE name = ?", name):
            raise E.Conflict(f"Conflict occurred attempting to store role - Duplicate entry found with "
                             f"name {name}.")
        rid = hex_id()
        self.db.execute("INSERT INTO roles (id, name, description) VALUES (?, ?, ?)", rid, name, description)
        return self.role(rid)

    def delete_role(self, role_id: str) -> None:
        self.role(role_id)
        self.db.execute("DELETE FROM roles WHERE id = ?", role_id)

    def assign(self, user_id: str, project_id: str, role_id: str) -> None:
        self.user(user_id), self.project(project_id), self.role(role_id)
        self.db.execute("INSERT OR IGNORE INTO assignments (user_id, project_id, role_id) VALUES (?, ?, ?)",
                        user_id, project_id, role_id)

    def unassign(self, user_id: str, project_id: str, role_id: str) -> None:
        if not self.db.execute("DELETE FROM assignments WHERE user_id = ? AND project_id = ? AND role_id = ?",
                               user_id, project_id, role_id):
            raise E.NotFound(f"Could not find role assignment with role: {role_id}, user or group: {user_id}, "
                             f"project, domain, or system: {project_id}.")

    def assignments(self, *, user_id: str | None = None, project_id: str | None = None,
                    role_id: str | None = None) -> list[dict]:
        sql, args = "SELECT * FROM assignments WHERE 1=1", []
        for column, value in (("user_id", user_id), ("project_id", project_id), ("role_id", role_id)):
            if value is not None:
                sql += f" AND {column} = ?"
                args.append(value)
        return self.db.all(sql + " ORDER BY user_id, project_id, role_id", *args)

    def role_names(self, user_id: str, project_id: str) -> list[str]:
        rows = self.db.all("SELECT r.name FROM assignments a JOIN roles r ON r.id = a.role_id "
                           "WHERE a.user_id = ? AND a.project_id = ? ORDER BY r.name", user_id, project_id)
        names = {r["name"] for r in rows}
        # implied roles, as Keystone's defaults: admin ⇒ member ⇒ reader
        if "admin" in names:
            names |= {"member", "reader"}
        if "member" in names:
            names.add("reader")
        return sorted(names)

    def user_projects(self, user_id: str) -> list[dict]:
        return self.db.all("SELECT DISTINCT p.* FROM projects p JOIN assignments a ON a.project_id = p.id "
                           "WHERE a.user_id = ? ORDER BY p.name", user_id)

    # -- authentication ---------------------------------------------------------------
    def check_password(self, user: dict, password: str) -> None:
        if not user["enabled"] or not check_secret(password, user["password_hash"]):
            raise E.Unauthorized("The request you have made requires authentication.")

    def issue(self, user: dict, project: dict | None, *, methods: list[str],
              app_cred: dict | None = None, expires_at: float | None = None) -> IssuedToken:
        """A new token for ``user``, scoped to ``project`` (None: unscoped)."""
        if not user["enabled"]:
            raise E.Unauthorized("The request you have made requires authentication.")
        issued = now()
        expires = issued + self.token_ttl
        if expires_at is not None:
            expires = min(expires, expires_at)
        if app_cred is not None and app_cred["expires_at"]:
            expires = min(expires, app_cred["expires_at"])
        if project is not None:
            if not project["enabled"]:
                raise E.Unauthorized(f"Project {project['id']} is disabled.")
            if not self.role_names(user["id"], project["id"]):
                raise E.Unauthorized(f"User {user['id']} has no access to project {project['id']}.")
        token = secrets.token_urlsafe(32)
        token_id = hex_id()
        self.db.execute("INSERT INTO tokens (hash, id, user_id, project_id, issued_at, expires_at, methods, "
                        "app_cred_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?)", token_hash(token), token_id, user["id"],
                        project["id"] if project else None, issued, expires, dumps(methods),
                        app_cred["id"] if app_cred else None)
        return IssuedToken(token, self._context(token_id, user, project, expires, methods, app_cred), issued)

    def validate(self, token: str | None) -> tuple[RequestContext, float]:
        """The context ``token`` stands for and when it was issued; 401 when it
        is missing, unknown, expired or revoked."""
        if not token:
            raise E.Unauthorized("The request you have made requires authentication.")
        row = self.db.one("SELECT * FROM tokens WHERE hash = ?", token_hash(token))
        if row is None or row["revoked"] or row["expires_at"] <= now():
            raise E.Unauthorized("The request you have made requires authentication.")
        user = self.db.one("SELECT * FROM users WHERE id = ?", row["user_id"])
        if user is None or not user["enabled"]:
            raise E.Unauthorized("The request you have made requires authentication.")
        project = None
        if row["project_id"]:
            project = self.db.one("SELECT * FROM projects WHERE id = ?", row["project_id"])
            if project is None or not project["enabled"]:
                raise E.Unauthorized("The request you have made requires authentication.")
        app_cred = None
        if row["app_cred_id"]:
            app_cred = self.db.one("SELECT * FROM app_creds WHERE id = ?", row["app_cred_id"])
            if app_cred is None:
                raise E.Unauthorized("The request you have made requires authentication.")
        ctx = self._context(row["id"], user, project, row["expires_at"], loads(row["methods"], []), app_cred)
        if project is not None and not ctx.roles:
            raise E.Unauthorized("The request you have made requires authentication.")
        return ctx, row["issued_at"]

    def revoke(self, token: str) -> None:
        if not self.db.execute("UPDATE tokens SET revoked = 1 WHERE hash = ? AND revoked = 0",
                               token_hash(token)):
            raise E.NotFound("Could not find token.")

    def purge_expired(self) -> int:
        return self.db.execute("DELETE FROM tokens WHERE expires_at < ?", now() - 3600)

    def _context(self, token_id: str, user: dict, project: dict | None, expires: float, methods: list[str],
                 app_cred: dict | None) -> RequestContext:
        roles: set[str] = set()
        if project is not None:
            roles = set(self.role_names(user["id"], project["id"]))
            if app_cred is not None:
                roles &= set(loads(app_cred["roles"], []))
        return RequestContext(
            user_id=user["id"], user_name=user["name"], project_id=project["id"] if project else "",
            project_name=project["name"] if project else "", domain_id=user["domain_id"],
            roles=frozenset(roles), token_id=token_id, expires_at=expires, auth_methods=tuple(methods),
            app_cred_id=app_cred["id"] if app_cred else None,
        )

    # -- application credentials -----------------------------------------------------
    def create_app_cred(self, ctx: RequestContext, name: str, *, secret: str | None, description: str,
                        roles: list[str] | None, expires_at: float | None, unrestricted: bool) -> tuple[dict, str]:
        if not ctx.project_id:
            raise E.Forbidden("an application credential needs a project-scoped token")
        if self.db.one("SELECT 1 FROM app_creds WHERE user_id = ? AND name = ?", ctx.user_id, name):
            raise E.Conflict(f"Conflict occurred attempting to store application_credential - Duplicate "
                             f"name, {name}.")
        granted = sorted(ctx.roles)
        if roles:
            missing = [r for r in roles if r not in ctx.roles]
            if missing:
                raise E.Forbidden(f"you do not have the role(s) {', '.join(missing)} to delegate")
            granted = sorted(set(roles))
        secret = secret or secrets.token_urlsafe(48)
        acid = hex_id()
        self.db.execute("INSERT INTO app_creds (id, name, user_id, project_id, secret_hash, description, roles, "
                        "expires_at, unrestricted) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", acid, name, ctx.user_id,
                        ctx.project_id, hash_secret(secret), description, dumps(granted), expires_at,
                        int(unrestricted))
        return self.app_cred(acid), secret

    def app_cred(self, acid: str) -> dict:
        row = self.db.one("SELECT * FROM app_creds WHERE id = ?", acid)
        if row is None:
            raise E.NotFound(f"Could not find Application Credential: {acid}.")
        return row

    def app_creds(self, user_id: str) -> list[dict]:
        return self.db.all("SELECT * FROM app_creds WHERE user_id = ? ORDER BY name", user_id)

    def delete_app_cred(self, acid: str) -> None:
        self.app_cred(acid)
        with self.db.tx() as c:
            c.execute("UPDATE tokens SET revoked = 1 WHERE app_cred_id = ?", (acid,))
            c.execute("DELETE FROM app_creds WHERE id = ?", (acid,))

    def authenticate_app_cred(self, *, acid: str | None, name: str | None, user: dict | None,
                              secret: str) -> tuple[dict, dict]:
        if acid:
            row = self.db.one("SELECT * FROM app_creds WHERE id = ?", acid)
        elif name and user is not None:
            row = self.db.one("SELECT * FROM app_creds WHERE name = ? AND user_id = ?", name, user["id"])
        else:
            raise E.BadRequest("an application credential needs an id, or a name and a user")
        if row is None or not check_secret(secret, row["secret_hash"]):
            raise E.Unauthorized("The request you have made requires authentication.")
        if row["expires_at"] and row["expires_at"] <= now():
            raise E.Unauthorized("The application credential has expired.")
        return row, self.user(row["user_id"])
