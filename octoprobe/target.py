"""Which cloud a run tests: ``clouds.yaml`` entries, resolved before any test runs.

A cloud is a ``clouds.yaml`` entry, read by openstacksdk's own config loader
(``openstack.config.OpenStackConfig``), so ``secure.yaml``, vendor profiles,
regions and ``OS_CLIENT_CONFIG_FILE`` work as they do for the ``openstack``
CLI. A run has up to three clouds, each in a role:

* ``cloud`` — the cloud under test: ``--cloud NAME``, else ``$OS_CLOUD``,
  else ``octoprobe`` (the reference cloud's entry);
* ``admin`` — the same cloud with admin rights (``--admin-cloud``), optional;
* ``alt`` — a second tenant for isolation tests (``--alt-cloud``), optional.

:func:`resolve_cloud` checks everything that can be checked without the
network and raises :class:`TargetError` (a :class:`ConfigError`) naming the
file(s) and the key: no clouds.yaml found (with every path searched), a YAML
error (file:line), no such cloud (with the clouds that exist), an unknown
auth type, a missing auth key (``clouds.mylab.auth.password``). Nothing
connects until :meth:`Target.connection` is called; connections carry an
explicit per-request timeout (``api_timeout``).

No ``repr``, ``str`` or message of this module contains a password, token
or secret: :class:`CloudTarget` keeps the openstacksdk region (which holds
them) out of its ``repr``.
"""

from __future__ import annotations

import difflib
import os
import warnings
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, Mapping

import yaml

from octoprobe import config_yaml
from octoprobe.config_yaml import ConfigError

__all__ = [
    "ROLES",
    "DEFAULT_CLOUD",
    "DEFAULT_API_TIMEOUT",
    "TargetError",
    "CloudTarget",
    "Target",
    "default_cloud_name",
    "cloud_config_files",
    "resolve_cloud",
]

ROLES = ("cloud", "admin", "alt")
DEFAULT_CLOUD = "octoprobe"
DEFAULT_API_TIMEOUT = 60.0
_OPTIONS = {"cloud": "--cloud", "admin": "--admin-cloud", "alt": "--alt-cloud"}

# Auth keys each common auth type needs; each inner tuple is "one of these".
# Other auth types are checked by keystoneauth's own loader.
_PASSWORD = (("auth_url",), ("username", "user_id"), ("password",))
_TOKEN = (("auth_url",), ("token",))
_APP_CRED = (
    ("auth_url",),
    ("application_credential_id", "application_credential_name"),
    ("application_credential_secret",),
)
_REQUIRED_AUTH: dict[str, tuple[tuple[str, ...], ...]] = {
    "password": _PASSWORD,
    "v3password": _PASSWORD,
    "v2password": _PASSWORD,
    "token": _TOKEN,
    "v3token": _TOKEN,
    "v2token": _TOKEN,
    "v3applicationcredential": _APP_CRED,
    "applicationcredential": _APP_CRED,
}


class TargetError(ConfigError):
    """A cloud cannot be used as configured; says which file and key."""


def default_cloud_name(env: Mapping[str, str] | None = None) -> tuple[str, str]:
    """The cloud to use when ``--cloud`` is not given, and where that came from."""
    env = os.environ if env is None else env
    if env.get("OS_CLOUD"):
        return env["OS_CLOUD"], "$OS_CLOUD"
    return DEFAULT_CLOUD, "the default"


def _search_dirs() -> list[str]:
    from openstack.config import loader

    dirs: list[str] = []
    for d in (os.getcwd(), *loader.CONFIG_SEARCH_PATH):
        if d not in dirs:
            dirs.append(d)
    return dirs


def _candidates(stem: str, env_var: str, env: Mapping[str, str]) -> list[str]:
    files = [env[env_var]] if env.get(env_var) else []
    for d in _search_dirs():
        for suffix in (".yaml", ".yml", ".json"):
            path = os.path.join(d, stem + suffix)
            if path not in files:
                files.append(path)
    return files


def cloud_config_files(env: Mapping[str, str] | None = None) -> list[str]:
    """Where clouds.yaml is looked for, in order (as openstacksdk does): the
    file named by ``$OS_CLIENT_CONFIG_FILE``, then the current directory,
    ``~/.config/openstack``, ``/etc/openstack``."""
    return _candidates("clouds", "OS_CLIENT_CONFIG_FILE", os.environ if env is None else env)


def _secure_files(env: Mapping[str, str]) -> list[str]:
    return _candidates("secure", "OS_CLIENT_SECURE_FILE", env)


@dataclass(frozen=True)
class CloudTarget:
    """One resolved clouds.yaml entry. Safe to print: no secrets in the repr."""

    role: str
    name: str
    config_file: str | None
    auth_type: str
    auth_url: str | None
    region_name: str | None
    project: str | None
    user: str | None
    api_timeout: float
    region: Any = field(repr=False, compare=False, default=None)  # openstack.config CloudRegion

    def describe(self) -> str:
        label = "cloud" if self.role == "cloud" else f"{self.role} cloud"
        details = [f"from {self.config_file}" if self.config_file else "from environment variables"]
        if self.auth_url:
            details.append(f"auth_url {self.auth_url}")
        if self.project:
            details.append(f"project {self.project}")
        if self.user:
            details.append(f"user {self.user}")
        if self.region_name:
            details.append(f"region {self.region_name}")
        return f"{label} {self.name!r} ({', '.join(details)})"

    def __str__(self) -> str:
        return self.describe()

    def connect(self) -> Any:
        """A new openstacksdk Connection (no request is made until it is used)."""
        from openstack import connection

        if self.region is None:
            raise RuntimeError(f"{self.describe()} has no resolved configuration")
        return connection.Connection(config=self.region)


def _first_existing(paths: list[str]) -> str | None:
    for path in paths:
        if os.path.isfile(path) and os.access(path, os.R_OK):
            return path
    return None


def _load_tree(path: str) -> config_yaml.Node | None:
    """The file's tree with line numbers; None when only plain YAML can read it
    (config_yaml refuses merge keys, which a clouds.yaml may use)."""
    try:
        return config_yaml.load_file(path)
    except ConfigError as exc:
        try:
            with open(path, encoding="utf-8") as f:
                yaml.safe_load(f)
        except (OSError, yaml.YAMLError, UnicodeDecodeError):
            raise TargetError(exc.message, path=exc.path, line=exc.line, key=exc.key) from None
        return None


def _line(tree: config_yaml.Node | None, keys: list[str]) -> int | None:
    """The line of the deepest of ``keys`` (a path from the root) that exists."""
    node, line = tree, None
    for key in keys:
        if node is None or node.kind != config_yaml.MAPPING or key not in node.value:
            break
        node = node.value[key]
        line = node.key_line or node.line
    return line


def resolve_cloud(
    name: str | None = None,
    *,
    role: str = "cloud",
    env: Mapping[str, str] | None = None,
    config_files: list[str] | None = None,
    secure_files: list[str] | None = None,
    api_timeout: float = DEFAULT_API_TIMEOUT,
) -> CloudTarget:
    """Resolve one cloud by name, checking everything but the network.

    ``name`` None means the default (:func:`default_cloud_name`). ``env``
    (default ``os.environ``) gives ``$OS_CLOUD`` and the override paths;
    ``config_files`` / ``secure_files`` replace the search paths (tests).
    """
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}; roles: {', '.join(ROLES)}")
    if api_timeout <= 0:
        raise ValueError(f"api_timeout must be positive, got {api_timeout}")
    env = os.environ if env is None else env
    option = _OPTIONS[role]
    source = option
    if name is None:
        name, source = default_cloud_name(env)
    key = f"clouds.{name}"
    files = cloud_config_files(env) if config_files is None else list(config_files)
    secure = _secure_files(env) if secure_files is None else list(secure_files)

    override = env.get("OS_CLIENT_CONFIG_FILE")
    if config_files is None and override and not os.path.isfile(override):
        raise TargetError(f"$OS_CLIENT_CONFIG_FILE names {override}, which does not exist", key=key)

    config_file = _first_existing(files)
    tree = None
    from_env = name == "envvars"
    if config_file is None and not from_env:
        raise TargetError(
            f"cannot use cloud {name!r} ({_chosen(source)}): no clouds.yaml found; searched: " + ", ".join(files),
            key=key,
        )
    if config_file is not None:
        tree = _load_tree(config_file)
    return _resolve(name, role, source, key, config_file, tree, secure, api_timeout)


@contextmanager
def _quiet() -> Iterator[None]:
    """openstacksdk 4.x warns about InfluxDB on every CloudRegion, configured or
    not (its parsed metrics config is never empty); that warning says nothing
    about the user's configuration."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Support for InfluxDB", category=Warning)
        yield


def _chosen(source: str) -> str:
    return f"chosen by {source}" if source.startswith(("-", "$")) else source


def _check_auth(config: Mapping[str, Any], key: str, error: Callable[..., TargetError]) -> None:
    auth = config.get("auth") or {}
    auth_type = str(config.get("auth_type") or "password")

    def given(name: str) -> bool:
        return bool(auth.get(name) or config.get(name))

    for alternatives in _REQUIRED_AUTH.get(auth_type, ()):
        if not any(given(k) for k in alternatives):
            wanted = " or ".join(repr(k) for k in alternatives)
            raise error(
                f"missing auth key {wanted} (auth_type {auth_type!r}); "
                "give it under this cloud's auth (secrets may go in secure.yaml)",
                ["auth"],
                f"{key}.auth.{alternatives[0]}",
            )
    if given("application_credential_name") and not (given("username") or given("user_id")):
        raise error(
            "an application credential given by name also needs 'username' or 'user_id'",
            ["auth"],
            f"{key}.auth.username",
        )


def _resolve(
    name: str,
    role: str,
    source: str,
    key: str,
    config_file: str | None,
    tree: config_yaml.Node | None,
    secure: list[str],
    api_timeout: float,
) -> CloudTarget:
    from keystoneauth1 import exceptions as ksa_exc
    from openstack import exceptions as sdk_exc
    from openstack.config import OpenStackConfig

    def error(message: str, sub: list[str] | None = None, err_key: str | None = None) -> TargetError:
        line = _line(tree, ["clouds", name, *(sub or [])]) if tree is not None else None
        return TargetError(message, path=config_file, line=line, key=err_key or key)

    try:
        loader = OpenStackConfig(
            config_files=[config_file] if config_file else [],
            secure_files=secure,
            app_name="octoprobe",
        )
    except sdk_exc.ConfigException as exc:
        raise TargetError(str(exc), path=config_file, key=key) from None

    names = loader.get_cloud_names()
    if names == ["defaults"] and (tree is None or _line(tree, ["clouds", "defaults"]) is None):
        names = []  # openstacksdk's stand-in when no cloud is configured at all
    if name not in names:
        known = [n for n in names if n != "envvars"]
        message = f"no cloud named {name!r} ({_chosen(source)})"
        close = difflib.get_close_matches(name, known, n=1)
        if close:
            message += f"; did you mean {close[0]!r}?"
        message += f"; clouds in this file: {', '.join(known)}" if known else "; the file defines no clouds"
        if name == "envvars":
            message = "no cloud from environment variables: $OS_AUTH_URL and friends are not set"
        raise TargetError(message, path=config_file, line=_line(tree, ["clouds"]), key=key)

    try:
        # First without loading the auth plugin, to name a missing key ourselves
        # (keystoneauth's messages do not say which key), then for real.
        with _quiet():
            unchecked = loader.get_one(name, validate=False, api_timeout=api_timeout)
    except (sdk_exc.SDKException, KeyError, ValueError) as exc:
        raise error(f"invalid cloud configuration: {type(exc).__name__}: {exc}") from None
    _check_auth(unchecked.config, key, error)
    try:
        with _quiet():
            region = loader.get_one(name, api_timeout=api_timeout)
    except ksa_exc.NoMatchingPlugin as exc:
        raise error(f"unknown auth_type: {exc}", ["auth_type"], f"{key}.auth_type") from None
    except ksa_exc.MissingRequiredOptions as exc:
        missing = ", ".join(o.dest for o in exc.options)
        raise error(f"missing required auth key(s): {missing}", ["auth"], f"{key}.auth") from None
    except (ksa_exc.ClientException, sdk_exc.SDKException, KeyError, ValueError) as exc:
        raise error(f"invalid cloud configuration: {type(exc).__name__}: {exc}") from None

    config = region.config
    auth = config.get("auth") or {}
    auth_type = str(config.get("auth_type") or "password")
    return CloudTarget(
        role=role,
        name=name,
        config_file=config_file if name != "envvars" else None,
        auth_type=auth_type,
        auth_url=auth.get("auth_url"),
        region_name=config.get("region_name") or None,
        project=auth.get("project_name") or auth.get("project_id"),
        user=auth.get("username")
        or auth.get("user_id")
        or auth.get("application_credential_name")
        or auth.get("application_credential_id"),
        api_timeout=float(api_timeout),
        region=region,
    )


class Target:
    """The clouds of one run; connections are opened on first use and cached.

    ``on_connect`` is called with each new connection (the plugin uses it to
    attach the call tracer).
    """

    def __init__(
        self,
        cloud: CloudTarget | None,
        admin: CloudTarget | None = None,
        alt: CloudTarget | None = None,
        *,
        on_connect: Callable[[Any], None] | None = None,
    ):
        self.clouds: dict[str, CloudTarget | None] = {"cloud": cloud, "admin": admin, "alt": alt}
        self._on_connect = on_connect
        self._connections: dict[str, Any] = {}

    @property
    def cloud(self) -> CloudTarget | None:
        return self.clouds["cloud"]

    @property
    def admin(self) -> CloudTarget | None:
        return self.clouds["admin"]

    @property
    def alt(self) -> CloudTarget | None:
        return self.clouds["alt"]

    def has(self, role: str) -> bool:
        return self.clouds.get(role) is not None

    def connection(self, role: str = "cloud") -> Any:
        """The (cached) connection for ``role``; LookupError when not configured."""
        if role not in ROLES:
            raise ValueError(f"unknown role {role!r}; roles: {', '.join(ROLES)}")
        if role in self._connections:
            return self._connections[role]
        cloud = self.clouds[role]
        if cloud is None:
            raise LookupError(f"no {role} cloud configured (give {_OPTIONS[role]} NAME)")
        conn = cloud.connect()
        if self._on_connect is not None:
            self._on_connect(conn)
        self._connections[role] = conn
        return conn

    def close(self) -> None:
        """Close every opened connection; errors while closing are ignored."""
        connections, self._connections = self._connections, {}
        for conn in connections.values():
            try:
                conn.close()
            except Exception:
                pass

    def __repr__(self) -> str:
        roles = ", ".join(f"{r}={c.name!r}" for r, c in self.clouds.items() if c is not None)
        return f"Target({roles})"
