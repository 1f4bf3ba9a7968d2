"""Keystone v3: version discovery, tokens, the catalog, domains, projects,
users, roles, role assignments and application credentials.

Reads of users and projects are for admins or the user themself; every
other write is admin-only (Keystone's default policy, simplified)."""

from __future__ import annotations

from typing import Any

from . import errors as E
from .catalog import endpoints, services, token_catalog
from .db import iso, iso_micro, loads, now
from .routing import ApiRequest, Reply, Service

service = Service("keystone", "/identity", title="identity")
route = service.route

VERSION_UPDATED = "2024-04-01T00:00:00Z"

_name = {"type": "string", "minLength": 1, "maxLength": 255}
_bool = {"type": "boolean"}
_str = {"type": ["string", "null"], "maxLength": 255}
_id_or_name = {
    "type": "object",
    "properties": {"id": _name, "name": _name,
                   "domain": {"type": "object", "properties": {"id": _name, "name": _name}}},
}

AUTH_SCHEMA = {
    "type": "object", "required": ["auth"],
    "properties": {"auth": {
        "type": "object", "required": ["identity"],
        "properties": {
            "identity": {
                "type": "object", "required": ["methods"],
                "properties": {
                    "methods": {"type": "array", "minItems": 1, "items": {
                        "enum": ["password", "token", "application_credential"]}},
                    "password": {"type": "object", "required": ["user"], "properties": {"user": {
                        "type": "object", "required": ["password"],
                        "properties": {**_id_or_name["properties"], "password": {"type": "string"}}}}},
                    "token": {"type": "object", "required": ["id"], "properties": {"id": {"type": "string"}}},
                    "application_credential": {
                        "type": "object", "required": ["secret"],
                        "properties": {"id": _name, "name": _name, "secret": {"type": "string"},
                                       "user": _id_or_name}},
                },
            },
            "scope": {"oneOf": [
                {"type": "object", "required": ["project"], "properties": {"project": _id_or_name}},
                {"type": "object", "required": ["domain"], "properties": {"domain": _id_or_name}},
                {"type": "object", "required": ["system"]},
                {"type": "string", "enum": ["unscoped"]},
            ]},
        },
    }},
}


def _object_schema(key: str, properties: dict, required: list[str] = ()) -> dict:
    return {"type": "object", "required": [key], "properties": {key: {
        "type": "object", "required": list(required), "properties": properties}}}


#: Keystone limits a project's name to 64 characters (a user's or role's to 255)
_project_name = {"type": "string", "minLength": 1, "maxLength": 64}
PROJECT_PROPS = {"name": _project_name, "domain_id": _name, "description": _str, "enabled": _bool,
                 "tags": {"type": "array", "items": {"type": "string", "maxLength": 255}},
                 "parent_id": _str, "is_domain": _bool}
USER_PROPS = {"name": _name, "domain_id": _name, "password": {"type": ["string", "null"]}, "enabled": _bool,
              "email": _str, "description": _str, "default_project_id": _str}
ROLE_PROPS = {"name": _name, "description": _str, "domain_id": _str}


def version_doc(base: str) -> dict:
    return {"id": "v3.14", "status": "stable", "updated": VERSION_UPDATED,
            "links": [{"rel": "self", "href": f"{base}/v3/"}],
            "media-types": [{"base": "application/json", "type": "application/vnd.openstack.identity-v3+json"}]}


@route("GET", "/", public=True)
def versions(req: ApiRequest) -> Reply:
    """Version discovery."""
    return Reply({"versions": {"values": [version_doc(req.base_url)]}}, status=300)


@route("GET", "/v3", public=True)
@route("GET", "/v3/", public=True)
def version_v3(req: ApiRequest) -> dict:
    """The v3 version document."""
    return {"version": version_doc(req.base_url)}


# -- views -------------------------------------------------------------------------------
def _link(req: ApiRequest, kind: str, ident: str) -> dict:
    return {"self": f"{req.base_url}/v3/{kind}/{ident}"}


def project_view(req: ApiRequest, p: dict) -> dict:
    return {"id": p["id"], "name": p["name"], "domain_id": p["domain_id"], "description": p["description"],
            "enabled": bool(p["enabled"]), "parent_id": p["domain_id"], "is_domain": False,
            "tags": loads(p["tags"], []), "options": {}, "links": _link(req, "projects", p["id"])}


def user_view(req: ApiRequest, u: dict) -> dict:
    view = {"id": u["id"], "name": u["name"], "domain_id": u["domain_id"], "enabled": bool(u["enabled"]),
            "description": u["description"], "default_project_id": u["default_project_id"],
            "password_expires_at": None, "options": {}, "links": _link(req, "users", u["id"])}
    if u["email"]:
        view["email"] = u["email"]
    return view


def role_view(req: ApiRequest, r: dict) -> dict:
    return {"id": r["id"], "name": r["name"], "description": r["description"], "domain_id": None,
            "options": {}, "links": _link(req, "roles", r["id"])}


def domain_view(req: ApiRequest, d: dict) -> dict:
    return {"id": d["id"], "name": d["name"], "description": d["description"], "enabled": bool(d["enabled"]),
            "tags": [], "options": {}, "links": _link(req, "domains", d["id"])}


def _collection(req: ApiRequest, key: str, items: list[dict], kind: str) -> dict:
    return {key: items, "links": {"self": f"{req.base_url}/v3/{kind}", "previous": None, "next": None}}


def _filter(items: list[dict], req: ApiRequest, names: tuple[str, ...]) -> list[dict]:
    for name in names:
        value = req.query_one(name)
        if value is not None:
            if name == "enabled":
                wanted = req.query_bool("enabled")
                items = [i for i in items if bool(i["enabled"]) == wanted]
            else:
                items = [i for i in items if str(i.get(name)) == value]
    return items


# -- tokens ---------------------------------------------------------------------------------
def _find_domain(req: ApiRequest, ref: dict | None) -> dict:
    ids = req.backend.identity
    if not ref:
        raise E.BadRequest("a name needs a domain (id or name)")
    if "id" in ref:
        return ids.domain(ref["id"])
    if "name" in ref:
        return ids.domain_by_name(ref["name"])
    raise E.BadRequest("a domain needs an id or a name")


def _find_user(req: ApiRequest, ref: dict) -> dict:
    ids = req.backend.identity
    try:
        if "id" in ref:
            return ids.user(ref["id"])
        if "name" in ref:
            return ids.user_by_name(ref["name"], _find_domain(req, ref.get("domain"))["id"])
    except E.NotFound:
        raise E.Unauthorized("The request you have made requires authentication.") from None
    raise E.BadRequest("a user needs an id or a name")


def _find_project(req: ApiRequest, ref: dict) -> dict:
    ids = req.backend.identity
    try:
        if "id" in ref:
            return ids.project(ref["id"])
        if "name" in ref:
            return ids.project_by_name(ref["name"], _find_domain(req, ref.get("domain"))["id"])
    except E.NotFound:
        raise E.Unauthorized(f"Could not find the project {ref.get('id') or ref.get('name')} to scope to.") \
            from None
    raise E.BadRequest("a project scope needs an id or a name")


def token_body(req: ApiRequest, ctx, issued_at: float, *, catalog: bool = True) -> dict:
    ids = req.backend.identity
    user = ids.user(ctx.user_id)
    domain = ids.domain(user["domain_id"])
    token: dict[str, Any] = {
        "methods": list(ctx.auth_methods),
        "user": {"id": user["id"], "name": user["name"], "password_expires_at": None,
                 "domain": {"id": domain["id"], "name": domain["name"]}},
        "audit_ids": [ctx.token_id[:22]],
        "issued_at": iso_micro(issued_at),
        "expires_at": iso_micro(ctx.expires_at),
    }
    if ctx.project_id:
        project = ids.project(ctx.project_id)
        pdomain = ids.domain(project["domain_id"])
        token["project"] = {"id": project["id"], "name": project["name"],
                            "domain": {"id": pdomain["id"], "name": pdomain["name"]}}
        token["is_domain"] = False
        token["roles"] = [{"id": ids.role_by_name(r)["id"], "name": r} for r in sorted(ctx.roles)]
        if catalog:
            token["catalog"] = token_catalog(req.backend.settings.base_url, req.backend.settings.region)
    if ctx.app_cred_id:
        cred = ids.app_cred(ctx.app_cred_id)
        token["application_credential"] = {"id": cred["id"], "name": cred["name"],
                                           "restricted": not cred["unrestricted"]}
    return {"token": token}


@route("POST", "/v3/auth/tokens", public=True, schema=AUTH_SCHEMA, status=201)
def issue_token(req: ApiRequest) -> Reply:
    """Authenticate (password, token or application credential) and issue a token."""
    ids = req.backend.identity
    auth = req.body["auth"]
    identity = auth["identity"]
    methods = identity["methods"]
    scope = auth.get("scope")
    app_cred = None
    expires_at = None
    if "application_credential" in methods:
        ref = identity.get("application_credential")
        if ref is None:
            raise E.BadRequest("application_credential is listed in methods but not given")
        user_ref = ref.get("user")
        user = _find_user(req, user_ref) if user_ref else None
        app_cred, user = ids.authenticate_app_cred(acid=ref.get("id"), name=ref.get("name"), user=user,
                                                   secret=ref["secret"])
        if scope is not None:
            raise E.Unauthorized("an application credential is scoped already; do not give a scope")
        project = ids.project(app_cred["project_id"])
    else:
        if "password" in methods:
            ref = identity.get("password")
            if ref is None:
                raise E.BadRequest("password is listed in methods but not given")
            user = _find_user(req, ref["user"])
            ids.check_password(user, ref["user"]["password"])
        elif "token" in methods:
            ref = identity.get("token")
            if ref is None:
                raise E.BadRequest("token is listed in methods but not given")
            old, _ = ids.validate(ref["id"])
            if old.app_cred_id:
                raise E.Forbidden("a token from an application credential cannot be rescoped")
            user = ids.user(old.user_id)
            expires_at = old.expires_at
        else:
            raise E.BadRequest(f"unsupported authentication methods: {methods}")
        if scope is None or scope == "unscoped":
            project = None
            if scope is None and user["default_project_id"]:
                try:
                    project = ids.project(user["default_project_id"])
                except E.NotFound:
                    project = None
        elif "project" in scope:
            project = _find_project(req, scope["project"])
        else:
            raise E.Unauthorized("only project scope is supported by this cloud (no domain or system scope)")
    issued = ids.issue(user, project, methods=list(methods), app_cred=app_cred, expires_at=expires_at)
    return Reply(token_body(req, issued.ctx, issued.issued_at, catalog="nocatalog" not in req.query),
                 status=201, headers={"X-Subject-Token": issued.token})


def _subject(req: ApiRequest):
    subject = req.headers.get("x-subject-token")
    if not subject:
        raise E.BadRequest("X-Subject-Token is required")
    try:
        ctx, issued_at = req.backend.identity.validate(subject)
    except E.Unauthorized:
        raise E.NotFound("Could not find token.") from None
    if ctx.user_id != req.context.user_id and not req.context.is_admin:
        raise E.Forbidden("you may only validate your own tokens")
    return subject, ctx, issued_at


@route("GET", "/v3/auth/tokens", policy="any")
def validate_token(req: ApiRequest) -> Reply:
    """Validate a token (X-Subject-Token) and show it."""
    subject, ctx, issued_at = _subject(req)
    return Reply(token_body(req, ctx, issued_at, catalog="nocatalog" not in req.query),
                 headers={"X-Subject-Token": subject})


@route("DELETE", "/v3/auth/tokens", policy="any")
def revoke_token(req: ApiRequest) -> None:
    """Revoke a token (X-Subject-Token)."""
    subject, _, _ = _subject(req)
    req.backend.identity.revoke(subject)


@route("GET", "/v3/auth/catalog")
def auth_catalog(req: ApiRequest) -> dict:
    """The catalog of the caller's token."""
    settings = req.backend.settings
    return {"catalog": token_catalog(settings.base_url, settings.region),
            "links": {"self": f"{req.base_url}/v3/auth/catalog"}}


@route("GET", "/v3/auth/projects")
def auth_projects(req: ApiRequest) -> dict:
    """Projects the caller can scope to."""
    items = [project_view(req, p) for p in req.backend.identity.user_projects(req.context.user_id)]
    return _collection(req, "projects", items, "auth/projects")


@route("GET", "/v3/auth/domains")
def auth_domains(req: ApiRequest) -> dict:
    """Domains the caller can scope to (none: only project scope is supported)."""
    return _collection(req, "domains", [], "auth/domains")


# -- catalog admin views --------------------------------------------------------------------
@route("GET", "/v3/services")
def list_services(req: ApiRequest) -> dict:
    """Services of the catalog."""
    items = services(req.backend.settings.base_url)
    if req.query_one("type"):
        items = [s for s in items if s["type"] == req.query_one("type")]
    return _collection(req, "services", items, "services")


@route("GET", "/v3/endpoints")
def list_endpoints(req: ApiRequest) -> dict:
    """Endpoints of the catalog."""
    items = endpoints(req.backend.settings.base_url, req.backend.settings.region)
    for key in ("interface", "service_id", "region_id"):
        if req.query_one(key):
            items = [e for e in items if e[key] == req.query_one(key)]
    return _collection(req, "endpoints", items, "endpoints")


@route("GET", "/v3/regions")
def list_regions(req: ApiRequest) -> dict:
    """The one region."""
    region = req.backend.settings.region
    return _collection(req, "regions", [{"id": region, "description": "", "parent_region_id": None,
                                         "links": _link(req, "regions", region)}], "regions")


# -- domains ---------------------------------------------------------------------------------
@route("GET", "/v3/domains")
def list_domains(req: ApiRequest) -> dict:
    """Domains."""
    items = _filter(req.backend.identity.domains(), req, ("name", "enabled"))
    return _collection(req, "domains", [domain_view(req, d) for d in items], "domains")


@route("GET", "/v3/domains/{domain_id}")
def show_domain(req: ApiRequest) -> dict:
    """One domain."""
    return {"domain": domain_view(req, req.backend.identity.domain(req.params["domain_id"]))}


# -- projects --------------------------------------------------------------------------------
def _admin(req: ApiRequest) -> None:
    if not req.context.is_admin:
        raise E.Forbidden("You are not authorized to perform the requested action: admin role required.")


@route("GET", "/v3/projects")
def list_projects(req: ApiRequest) -> dict:
    """Projects (admin; others list theirs with /v3/auth/projects or
    /v3/users/{id}/projects, as Keystone's default policy has it)."""
    _admin(req)
    items = _filter(req.backend.identity.projects(), req, ("name", "domain_id", "enabled"))
    return _collection(req, "projects", [project_view(req, p) for p in items], "projects")


@route("POST", "/v3/projects", status=201, policy="admin",
       schema=_object_schema("project", PROJECT_PROPS, ["name"]))
def create_project(req: ApiRequest) -> dict:
    """Create a project."""
    body = req.body["project"]
    project = req.backend.identity.create_project(
        body["name"], body.get("domain_id") or "default", description=body.get("description") or "",
        enabled=body.get("enabled", True), tags=body.get("tags"))
    return {"project": project_view(req, project)}


@route("GET", "/v3/projects/{project_id}")
def show_project(req: ApiRequest) -> dict:
    """One project."""
    if not req.context.is_admin and req.params["project_id"] != req.context.project_id:
        # Keystone answers 403 before looking: nothing leaks about other projects
        raise E.Forbidden("You are not authorized to perform the requested action: identity:get_project.")
    return {"project": project_view(req, req.backend.identity.project(req.params["project_id"]))}


@route("PATCH", "/v3/projects/{project_id}", policy="admin", schema=_object_schema("project", PROJECT_PROPS))
def update_project(req: ApiRequest) -> dict:
    """Update a project."""
    changes = {k: v for k, v in req.body["project"].items() if k in ("name", "description", "enabled", "tags")}
    if changes.get("description") is None:
        changes.pop("description", None)
    return {"project": project_view(req, req.backend.identity.update_project(req.params["project_id"], **changes))}


@route("DELETE", "/v3/projects/{project_id}", policy="admin")
def delete_project(req: ApiRequest) -> None:
    """Delete a project."""
    req.backend.identity.delete_project(req.params["project_id"])


# -- users -------------------------------------------------------------------------------------
def _self_or_admin(req: ApiRequest, user_id: str) -> None:
    if user_id != req.context.user_id and not req.context.is_admin:
        raise E.Forbidden("You are not authorized to perform the requested action on another user.")


@route("GET", "/v3/users")
def list_users(req: ApiRequest) -> dict:
    """Users (admin)."""
    _admin(req)
    items = _filter(req.backend.identity.users(), req, ("name", "domain_id", "enabled"))
    return _collection(req, "users", [user_view(req, u) for u in items], "users")


@route("POST", "/v3/users", status=201, policy="admin", schema=_object_schema("user", USER_PROPS, ["name"]))
def create_user(req: ApiRequest) -> dict:
    """Create a user."""
    body = req.body["user"]
    user = req.backend.identity.create_user(
        body["name"], body.get("domain_id") or "default", password=body.get("password"),
        enabled=body.get("enabled", True), email=body.get("email"), description=body.get("description") or "",
        default_project_id=body.get("default_project_id"))
    return {"user": user_view(req, user)}


@route("GET", "/v3/users/{user_id}")
def show_user(req: ApiRequest) -> dict:
    """One user (admin or self)."""
    _self_or_admin(req, req.params["user_id"])
    return {"user": user_view(req, req.backend.identity.user(req.params["user_id"]))}


@route("PATCH", "/v3/users/{user_id}", policy="admin", schema=_object_schema("user", USER_PROPS))
def update_user(req: ApiRequest) -> dict:
    """Update a user."""
    changes = {k: v for k, v in req.body["user"].items()
               if k in ("name", "enabled", "email", "description", "default_project_id", "password")}
    if changes.get("password", "") is None:
        raise E.BadRequest("Invalid input for field/attribute password: None is not a string")
    return {"user": user_view(req, req.backend.identity.update_user(req.params["user_id"], **changes))}


@route("DELETE", "/v3/users/{user_id}", policy="admin")
def delete_user(req: ApiRequest) -> None:
    """Delete a user."""
    req.backend.identity.delete_user(req.params["user_id"])


@route("POST", "/v3/users/{user_id}/password", policy="any", status=204, schema=_object_schema(
    "user", {"password": {"type": "string", "minLength": 1},
             "original_password": {"type": "string"}}, ["password", "original_password"]))
def change_password(req: ApiRequest) -> None:
    """Change one's own password (revokes one's tokens)."""
    ids = req.backend.identity
    if req.params["user_id"] != req.context.user_id:
        raise E.Forbidden("you can only change your own password")
    user = ids.user(req.params["user_id"])
    ids.check_password(user, req.body["user"]["original_password"])
    ids.update_user(user["id"], password=req.body["user"]["password"])


@route("GET", "/v3/users/{user_id}/projects")
def user_projects(req: ApiRequest) -> dict:
    """Projects a user has a role on (admin or self)."""
    _self_or_admin(req, req.params["user_id"])
    ids = req.backend.identity
    ids.user(req.params["user_id"])
    items = [project_view(req, p) for p in ids.user_projects(req.params["user_id"])]
    return _collection(req, "projects", items, f"users/{req.params['user_id']}/projects")


# -- roles and assignments -------------------------------------------------------------------------
@route("GET", "/v3/roles")
def list_roles(req: ApiRequest) -> dict:
    """Roles."""
    items = _filter(req.backend.identity.roles(), req, ("name",))
    return _collection(req, "roles", [role_view(req, r) for r in items], "roles")


@route("POST", "/v3/roles", status=201, policy="admin", schema=_object_schema("role", ROLE_PROPS, ["name"]))
def create_role(req: ApiRequest) -> dict:
    """Create a role."""
    body = req.body["role"]
    return {"role": role_view(req, req.backend.identity.create_role(body["name"], body.get("description") or ""))}


@route("GET", "/v3/roles/{role_id}")
def show_role(req: ApiRequest) -> dict:
    """One role."""
    return {"role": role_view(req, req.backend.identity.role(req.params["role_id"]))}


@route("DELETE", "/v3/roles/{role_id}", policy="admin")
def delete_role(req: ApiRequest) -> None:
    """Delete a role (and its assignments)."""
    req.backend.identity.delete_role(req.params["role_id"])


@route("GET", "/v3/projects/{project_id}/users/{user_id}/roles")
def list_grants(req: ApiRequest) -> dict:
    """Roles a user has on a project."""
    _self_or_admin(req, req.params["user_id"])
    ids = req.backend.identity
    ids.project(req.params["project_id"]), ids.user(req.params["user_id"])
    rows = ids.assignments(user_id=req.params["user_id"], project_id=req.params["project_id"])
    items = [role_view(req, ids.role(r["role_id"])) for r in rows]
    return _collection(req, "roles", items, f"projects/{req.params['project_id']}/users/{req.params['user_id']}/roles")


@route("PUT", "/v3/projects/{project_id}/users/{user_id}/roles/{role_id}", policy="admin", body="none")
def grant(req: ApiRequest) -> None:
    """Give a user a role on a project."""
    req.backend.identity.assign(req.params["user_id"], req.params["project_id"], req.params["role_id"])


@route("HEAD", "/v3/projects/{project_id}/users/{user_id}/roles/{role_id}", body="none")
@route("GET", "/v3/projects/{project_id}/users/{user_id}/roles/{role_id}", body="none")
def check_grant(req: ApiRequest) -> None:
    """Whether a user has a role on a project (204 or 404)."""
    _self_or_admin(req, req.params["user_id"])
    rows = req.backend.identity.assignments(user_id=req.params["user_id"], project_id=req.params["project_id"],
                                            role_id=req.params["role_id"])
    if not rows:
        raise E.NotFound("Could not find role assignment.")


@route("DELETE", "/v3/projects/{project_id}/users/{user_id}/roles/{role_id}", policy="admin")
def revoke_grant(req: ApiRequest) -> None:
    """Take a role away."""
    req.backend.identity.unassign(req.params["user_id"], req.params["project_id"], req.params["role_id"])


@route("GET", "/v3/role_assignments")
def role_assignments(req: ApiRequest) -> dict:
    """Role assignments, filtered by user.id, scope.project.id and role.id."""
    ids = req.backend.identity
    user_id = req.query_one("user.id")
    if not req.context.is_admin and user_id != req.context.user_id:
        raise E.Forbidden("You are not authorized to list other users' role assignments.")
    rows = ids.assignments(user_id=user_id, project_id=req.query_one("scope.project.id"),
                           role_id=req.query_one("role.id"))
    include_names = req.query_bool("include_names")
    items = []
    for r in rows:
        item = {"user": {"id": r["user_id"]}, "scope": {"project": {"id": r["project_id"]}},
                "role": {"id": r["role_id"]},
                "links": {"assignment": f"{req.base_url}/v3/projects/{r['project_id']}/users/{r['user_id']}"
                                        f"/roles/{r['role_id']}"}}
        if include_names:
            item["user"]["name"] = ids.user(r["user_id"])["name"]
            item["scope"]["project"]["name"] = ids.project(r["project_id"])["name"]
            item["role"]["name"] = ids.role(r["role_id"])["name"]
        items.append(item)
    return _collection(req, "role_assignments", items, "role_assignments")


# -- application credentials -------------------------------------------------------------------------
APP_CRED_SCHEMA = _object_schema("application_credential", {
    "name": _name, "secret": {"type": ["string", "null"], "minLength": 1}, "description": _str,
    "expires_at": {"type": ["string", "null"]}, "unrestricted": _bool,
    "roles": {"type": "array", "items": {"type": "object", "properties": {"id": _name, "name": _name}}},
    "access_rules": {"type": "array"},
}, ["name"])


def app_cred_view(req: ApiRequest, c: dict) -> dict:
    ids = req.backend.identity
    return {"id": c["id"], "name": c["name"], "description": c["description"], "project_id": c["project_id"],
            "user_id": c["user_id"], "expires_at": iso(c["expires_at"]), "unrestricted": bool(c["unrestricted"]),
            "roles": [{"id": ids.role_by_name(r)["id"], "name": r, "domain_id": None} for r in loads(c["roles"], [])],
            "links": {"self": f"{req.base_url}/v3/users/{c['user_id']}/application_credentials/{c['id']}"}}


def _parse_expiry(text: str | None) -> float | None:
    if not text:
        return None
    import datetime as dt
    try:
        value = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise E.BadRequest(f"Invalid input for field/attribute expires_at: {text!r} is not an ISO 8601 time") \
            from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.timezone.utc)
    if value.timestamp() <= now():
        raise E.BadRequest("Invalid input for field/attribute expires_at: the time is in the past")
    return value.timestamp()


@route("POST", "/v3/users/{user_id}/application_credentials", status=201, policy="any", schema=APP_CRED_SCHEMA)
def create_app_cred(req: ApiRequest) -> dict:
    """Create an application credential for oneself (the secret is shown once)."""
    if req.params["user_id"] != req.context.user_id:
        raise E.Forbidden("you can only create application credentials for yourself")
    body = req.body["application_credential"]
    ids = req.backend.identity
    roles = None
    if body.get("roles"):
        roles = [r.get("name") or ids.role(r["id"])["name"] for r in body["roles"]]
    cred, secret = ids.create_app_cred(req.context, body["name"], secret=body.get("secret"),
                                       description=body.get("description") or "", roles=roles,
                                       expires_at=_parse_expiry(body.get("expires_at")),
                                       unrestricted=bool(body.get("unrestricted", False)))
    return {"application_credential": {**app_cred_view(req, cred), "secret": secret}}


@route("GET", "/v3/users/{user_id}/application_credentials")
def list_app_creds(req: ApiRequest) -> dict:
    """One's application credentials."""
    _self_or_admin(req, req.params["user_id"])
    items = [app_cred_view(req, c) for c in req.backend.identity.app_creds(req.params["user_id"])]
    if req.query_one("name"):
        items = [c for c in items if c["name"] == req.query_one("name")]
    return _collection(req, "application_credentials", items,
                       f"users/{req.params['user_id']}/application_credentials")


def _own_cred(req: ApiRequest) -> dict:
    _self_or_admin(req, req.params["user_id"])
    cred = req.backend.identity.app_cred(req.params["cred_id"])
    if cred["user_id"] != req.params["user_id"]:
        raise E.NotFound(f"Could not find Application Credential: {req.params['cred_id']}.")
    return cred


@route("GET", "/v3/users/{user_id}/application_credentials/{cred_id}")
def show_app_cred(req: ApiRequest) -> dict:
    """One application credential."""
    return {"application_credential": app_cred_view(req, _own_cred(req))}


@route("DELETE", "/v3/users/{user_id}/application_credentials/{cred_id}", policy="any")
def delete_app_cred(req: ApiRequest) -> None:
    """Delete an application credential (its tokens are revoked)."""
    cred = _own_cred(req)
    req.backend.identity.delete_app_cred(cred["id"])
