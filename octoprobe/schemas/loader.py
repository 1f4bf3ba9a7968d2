"""Loading response schemas and checking responses against them.

Schemas are JSON files (JSON Schema draft 2020-12) under this package, named
by their path without ``.json``: ``compute/flavor``, ``identity/versions``.
A schema may refer to another by a relative ``$ref``
(``"../common/links.json"``); references are resolved from the same
directory tree only, never from the network.

:class:`Schemas` reads them in one mode (see :mod:`.modes`) and validates:

    schemas = Schemas("strict")
    schemas.validate("compute/flavor", body)

A mismatch raises :class:`ResponseSchemaError` (an AssertionError, so pytest
reports a failure) listing every problem with its JSON path, e.g.
``$.flavor.ram: 'big' is not of type 'integer'`` or, for a field the schema
does not know, ``$.flavor.vendor_x: unexpected field (strict mode ...)``.
A missing or broken schema file raises :class:`SchemaNotFound` /
:class:`SchemaFileError`.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

import jsonschema
import referencing
import referencing.exceptions
from referencing.jsonschema import DRAFT202012

from octoprobe.redact import is_sensitive_key, redact_text
from octoprobe.schemas.modes import MODES, STRICT, apply_mode

__all__ = ["BASE_URI", "Problem", "ResponseSchemaError", "SchemaNotFound", "SchemaFileError", "Schemas"]

#: Schemas get ids under this (unresolvable, reserved) URI; refs are resolved locally.
BASE_URI = "https://schemas.octoprobe.invalid/"
_NAME_RE = re.compile(r"[a-z0-9_-]+(/[a-z0-9_-]+)*")
_IDENTIFIER_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_MAX_PROBLEMS = 20
_MAX_MESSAGE = 240


class SchemaNotFound(LookupError):
    pass


class SchemaFileError(ValueError):
    """A schema file is not valid JSON or not a valid JSON Schema."""


@dataclass(frozen=True)
class Problem:
    path: str  # JSONPath of the offending value: $.flavor.links[0].href
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


class ResponseSchemaError(AssertionError):
    """A response does not match its schema."""

    def __init__(self, schema: str, mode: str, problems: list[Problem], total: int | None = None):
        self.schema = schema
        self.mode = mode
        self.problems = problems
        total = len(problems) if total is None else total
        lines = [f"response does not match schema {schema} ({mode} mode): {total} problem(s)"]
        lines.extend(f"  {p}" for p in problems)
        if total > len(problems):
            lines.append(f"  ... and {total - len(problems)} more")
        super().__init__("\n".join(lines))


def _json_path(parts: Any) -> str:
    path = "$"
    for part in parts:
        if isinstance(part, int):
            path += f"[{part}]"
        elif _IDENTIFIER_RE.fullmatch(str(part)):
            path += f".{part}"
        else:
            path += "[" + json.dumps(str(part)) + "]"
    return path


def _short(text: str) -> str:
    text = redact_text(text)
    return text if len(text) <= _MAX_MESSAGE else text[: _MAX_MESSAGE - 3] + "..."


class Schemas:
    """The response schemas, read in one mode (``strict`` or ``lenient``).

    ``root`` is the directory of schema files (default: this package).
    """

    def __init__(self, mode: str = STRICT, *, root: Path | Traversable | None = None):
        if mode not in MODES:
            raise ValueError(f"unknown schema mode {mode!r}; modes: {', '.join(MODES)}")
        self.mode = mode
        self.root: Path | Traversable = root if root is not None else resources.files(__package__)
        self._cache: dict[str, dict[str, Any]] = {}
        self._validators: dict[str, Any] = {}
        self._registry: referencing.Registry = referencing.Registry(retrieve=self._retrieve)

    # -- loading

    def _file(self, name: str) -> Traversable | Path:
        if not _NAME_RE.fullmatch(name):
            raise SchemaNotFound(f"invalid schema name {name!r}: use a path like 'compute/flavor'")
        node: Any = self.root
        for part in name.split("/")[:-1]:
            node = node / part
        return node / (name.split("/")[-1] + ".json")

    def load(self, name: str) -> dict[str, Any]:
        """The schema ``name`` as read in this mode (a fresh copy is not made: do not modify)."""
        if name in self._cache:
            return self._cache[name]
        file = self._file(name)
        if not file.is_file():
            raise SchemaNotFound(f"no schema {name!r} (no file {name}.json under {self.root})")
        try:
            raw = json.loads(file.read_text(encoding="utf-8"))
        except (ValueError, UnicodeDecodeError) as exc:
            raise SchemaFileError(f"schema {name}.json: invalid JSON: {exc}") from None
        try:
            jsonschema.Draft202012Validator.check_schema(raw)
        except jsonschema.SchemaError as exc:
            where = _json_path(exc.absolute_path)
            raise SchemaFileError(f"schema {name}.json: {where}: {exc.message}") from None
        schema = apply_mode(raw, self.mode)
        schema.setdefault("$id", BASE_URI + name + ".json")
        self._cache[name] = schema
        return schema

    def _retrieve(self, uri: str) -> referencing.Resource:
        if not uri.startswith(BASE_URI) or not uri.endswith(".json"):
            raise referencing.exceptions.NoSuchResource(ref=uri)
        name = uri[len(BASE_URI) : -len(".json")]
        try:
            return referencing.Resource.from_contents(self.load(name), default_specification=DRAFT202012)
        except SchemaNotFound:
            raise referencing.exceptions.NoSuchResource(ref=uri) from None

    def validator(self, name: str) -> Any:
        if name not in self._validators:
            self._validators[name] = jsonschema.Draft202012Validator(self.load(name), registry=self._registry)
        return self._validators[name]

    def names(self) -> list[str]:
        """Every schema under the root, as names."""
        found: list[str] = []

        def walk(node: Any, prefix: str) -> None:
            for child in node.iterdir():
                if child.is_dir() and not child.name.startswith(("_", ".")):
                    walk(child, f"{prefix}{child.name}/")
                elif child.name.endswith(".json"):
                    found.append(prefix + child.name[: -len(".json")])

        walk(self.root, "")
        return sorted(found)

    # -- validating

    def problems(self, name: str, instance: Any) -> list[Problem]:
        """Every way ``instance`` fails schema ``name`` (empty when it matches)."""
        try:
            errors = list(self.validator(name).iter_errors(instance))
        except referencing.exceptions.Unresolvable as exc:
            raise SchemaFileError(f"schema {name}: unresolvable $ref {exc}") from None
        problems: list[Problem] = []
        for error in errors:
            problems.extend(self._describe(error))
        return sorted(problems, key=lambda p: (p.path, p.message))

    def validate(self, name: str, instance: Any) -> Any:
        """``instance`` if it matches schema ``name``; ResponseSchemaError otherwise."""
        problems = self.problems(name, instance)
        if problems:
            raise ResponseSchemaError(name, self.mode, problems[:_MAX_PROBLEMS], total=len(problems))
        return instance

    def _describe(self, error: jsonschema.ValidationError) -> list[Problem]:
        path = list(error.absolute_path)
        # "required" and "additionalProperties" problems name keys, never values:
        # they are safe to show even under a password or token key.
        if any(is_sensitive_key(part) for part in path) and error.validator not in ("required", "additionalProperties"):
            # The message would quote the value; under a password or token key, it must not.
            message = f"fails the schema's {error.validator!r} check (value not shown: it may be a secret)"
            return [Problem(_json_path(path), message)]
        if error.validator == "additionalProperties" and isinstance(error.instance, dict):
            known = set((error.schema or {}).get("properties") or {})
            patterns = list((error.schema or {}).get("patternProperties") or {})
            extras = [k for k in error.instance if k not in known and not any(re.search(p, k) for p in patterns)]
            hint = (
                "unexpected field (strict mode refuses fields the schema does not know; "
                "--schema-mode lenient allows them)"
            )
            return [Problem(_json_path([*path, k]), hint) for k in extras]
        if error.validator == "required":
            return [Problem(_json_path(path), _short(error.message))]
        if error.validator in ("oneOf", "anyOf") and error.context:
            reasons = "; ".join(sorted({_short(e.message) for e in error.context}))
            return [Problem(_json_path(path), _short(f"matches none of the allowed forms: {reasons}"))]
        return [Problem(_json_path(path), _short(error.message))]

    def __repr__(self) -> str:
        return f"Schemas(mode={self.mode!r})"
