"""Removing secrets from what octoprobe records: headers, JSON bodies, URLs, text.

Call traces, error messages and reports are attached to test results and
shared with vendors, so nothing that could authenticate may appear in them:
tokens (``X-Auth-Token``, ``X-Subject-Token``, ``Authorization``, a token id
inside an auth request), passwords (``password``, ``adminPass``, ...),
secrets (``secret``, ``application_credential_secret``, ...) and private
keys. A redacted value becomes :data:`REDACTED`; the structure around it
(keys, other fields) is kept, so a trace still says *what* was sent.

Every function returns a new value and never changes its argument:

* :func:`redact_headers` — a mapping of HTTP headers;
* :func:`redact_json` — a JSON document (dicts and lists, nested);
* :func:`redact_url` — the query parameters and the password of a URL;
* :func:`redact_text` — free text: ``key=value`` / ``key: value`` /
  ``"key": "value"`` pairs with a sensitive key, PEM private key blocks,
  ``Bearer`` credentials and Fernet tokens.

Redaction errs on the side of removing too much: a key is sensitive when its
name *contains* password, passwd, secret, token, private key, api key or
credential (case-insensitive, ``-`` and ``_`` ignored).
"""

from __future__ import annotations

import re
from typing import Any, Mapping
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

__all__ = [
    "REDACTED",
    "is_sensitive_key",
    "redact_headers",
    "redact_json",
    "redact_url",
    "redact_text",
]

REDACTED = "<redacted>"

# Fragments of key names that mark a value as secret, compared with the key
# lower-cased and stripped of '-' and '_' (so X-Auth-Token, x_auth_token and
# xAuthToken all match "token").
_SENSITIVE_FRAGMENTS = (
    "password",
    "passwd",
    "passphrase",
    "adminpass",
    "secret",
    "token",
    "privatekey",
    "apikey",
    "authorization",
    "cookie",
    "signature",
    "tempurlsig",
    "credential",
    "sessionkey",
)
# Keys that contain a fragment above but name no secret.
_NOT_SENSITIVE = frozenset(
    {
        "tokenexpires",
        "tokenexpiresat",
        "passwordexpiresat",
        "passwordlastchanged",
        "credentialid",
        "applicationcredentialid",
        "applicationcredentialname",
        "credentials",  # a list or mapping: its members are checked one by one
    }
)
# A mapping under one of these keys holds a token: its "id" is the token itself
# (``{"auth": {"identity": {"token": {"id": "gAAAA..."}}}}``).
_TOKEN_CONTAINERS = frozenset({"token"})


def _norm(key: str) -> str:
    return key.lower().replace("-", "").replace("_", "")


def is_sensitive_key(key: object) -> bool:
    """Whether a header, field or parameter with this name holds a secret."""
    if not isinstance(key, str):
        return False
    norm = _norm(key)
    if norm in _NOT_SENSITIVE:
        return False
    return any(fragment in norm for fragment in _SENSITIVE_FRAGMENTS)


def redact_headers(headers: Mapping[str, Any] | None) -> dict[str, Any]:
    """A copy of ``headers`` with the value of every sensitive header replaced."""
    if not headers:
        return {}
    return {name: (REDACTED if is_sensitive_key(name) else value) for name, value in headers.items()}


def redact_json(value: Any) -> Any:
    """A copy of a JSON document with every secret value replaced, at any depth.

    A value is replaced when its key is sensitive and it is a scalar (a
    mapping or list under a sensitive key is searched instead, so a
    ``token`` object in a Keystone response keeps its structure); the ``id``
    of a mapping under ``token`` is replaced too. Strings that are not under
    a sensitive key are passed through :func:`redact_text`, which catches
    secrets embedded in text (an EC2 credential's JSON ``blob``, a PEM key).
    """
    return _redact_value(value, parent_key=None)


def _redact_value(value: Any, parent_key: str | None) -> Any:
    if isinstance(value, Mapping):
        in_token = isinstance(parent_key, str) and _norm(parent_key) in _TOKEN_CONTAINERS
        out = {}
        for key, item in value.items():
            if isinstance(item, (Mapping, list, tuple)):
                out[key] = _redact_value(item, key)
            elif item is not None and (is_sensitive_key(key) or (in_token and key == "id")):
                out[key] = REDACTED
            else:
                out[key] = _redact_value(item, key)
        return out
    if isinstance(value, (list, tuple)):
        return [_redact_value(item, parent_key) for item in value]
    if isinstance(value, str):
        return redact_text(value)
    return value


def redact_url(url: str) -> str:
    """``url`` with sensitive query parameters and any userinfo password replaced."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return redact_text(url)
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, _, hostport = netloc.rpartition("@")
        user = userinfo.split(":", 1)[0]
        netloc = f"{user}:{REDACTED}@{hostport}" if ":" in userinfo else netloc
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        if any(is_sensitive_key(k) for k, _ in pairs):
            query = urlencode([(k, REDACTED if is_sensitive_key(k) else v) for k, v in pairs], safe="<>")
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


_PEM_PRIVATE = re.compile(
    r"-----BEGIN ([A-Z0-9 ]*)PRIVATE KEY-----.*?(?:-----END \1PRIVATE KEY-----|\Z)",
    re.DOTALL,
)
_BEARER = re.compile(r"\b(Bearer|Basic|Negotiate)\s+[A-Za-z0-9._~+/=-]+", re.IGNORECASE)
# Fernet tokens (Keystone's default) start with the version byte 0x80: "gAAAAA".
_FERNET = re.compile(r"\bgAAAAA[A-Za-z0-9_=-]{20,}")
_URL = re.compile(r"\b[A-Za-z][A-Za-z0-9+.-]{0,20}://[^\s'\"<>]+")
# A key that may name a secret (checked again with is_sensitive_key), then a
# separator and a value: "password": "x" / password=x / X-Auth-Token: x.
# The key must contain one of the fragments, each letter optionally followed
# by '-' or '_' (private_key, X-Auth-Token), and must not follow a key character.
_FRAGMENT = "|".join("[-_]?".join(map(re.escape, fragment)) for fragment in _SENSITIVE_FRAGMENTS)
# Bounded on both sides so that a long run of key characters costs linear time.
_KEY = r"[A-Za-z0-9_.-]{0,40}?(?:" + _FRAGMENT + r")[A-Za-z0-9_.-]{0,40}"
_PAIR = re.compile(
    r"(?<![A-Za-z0-9_.-])(?P<key>['\"]?(?P<name>" + _KEY + r")['\"]?)"
    r"(?P<sep>\s*[:=]\s*|\s+(?=['\"]))"
    r"(?P<value>\"(?:[^\"\\]|\\.)*\"|'(?:[^'\\]|\\.)*'|[^\s,;&'\"}\]]+)",
    re.IGNORECASE,
)
_OPTION = re.compile(
    r"(?<![A-Za-z0-9_-])(?P<opt>--" + _KEY + r")(?P<sep>[ =])(?P<value>\"[^\"]*\"|'[^']*'|\S+)",
    re.IGNORECASE,
)


def _replace_pair(match: re.Match[str]) -> str:
    if not is_sensitive_key(match.group("name")):
        return match.group(0)
    value = match.group("value")
    quote = value[0] if value[:1] in ("'", '"') else ""
    return f"{match.group('key')}{match.group('sep')}{quote}{REDACTED}{quote}"


def _replace_option(match: re.Match[str]) -> str:
    if not is_sensitive_key(match.group("opt")):
        return match.group(0)
    return f"{match.group('opt')}{match.group('sep')}{REDACTED}"


def redact_text(text: str) -> str:
    """``text`` with secrets that can be recognised in free text replaced."""
    if not text:
        return text
    text = _PEM_PRIVATE.sub(REDACTED, text)
    text = _URL.sub(lambda m: redact_url(m.group(0)), text)
    text = _BEARER.sub(lambda m: f"{m.group(1)} {REDACTED}", text)
    text = _OPTION.sub(_replace_option, text)
    text = _PAIR.sub(_replace_pair, text)
    text = _FERNET.sub(REDACTED, text)
    return text
