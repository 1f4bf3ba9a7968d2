"""Strict and lenient schema modes: one schema file, two readings.

* **strict** — no unknown fields: every object schema that declares
  ``properties`` and says nothing about other fields (no
  ``additionalProperties``, ``patternProperties`` or
  ``unevaluatedProperties``) gets ``additionalProperties: false``, at every
  depth. An object that wants extra fields says so (``additionalProperties:
  true`` or a schema for them, as a metadata map does).
* **lenient** — extra fields allowed (vendors add them): every
  ``additionalProperties: false`` and ``unevaluatedProperties: false`` is
  removed, including ones written in the file. Everything else (types,
  required fields, patterns) is checked as in strict mode.

Schema files are written without ``additionalProperties: false``; the mode
decides. Objects combined with ``allOf`` should not rely on strict mode
(each part would refuse the other's fields): give them ``unevaluatedProperties``.
"""

from __future__ import annotations

import copy
from typing import Any

__all__ = ["MODES", "STRICT", "LENIENT", "apply_mode"]

STRICT = "strict"
LENIENT = "lenient"
MODES = (STRICT, LENIENT)

# Keywords whose value is a schema, a list of schemas, or a mapping of name -> schema.
_SCHEMA_KEYWORDS = (
    "additionalProperties",
    "unevaluatedProperties",
    "items",
    "additionalItems",
    "unevaluatedItems",
    "contains",
    "propertyNames",
    "not",
    "if",
    "then",
    "else",
)
_LIST_KEYWORDS = ("allOf", "anyOf", "oneOf", "prefixItems")
_MAP_KEYWORDS = ("properties", "patternProperties", "$defs", "definitions", "dependentSchemas")
_OPEN_KEYWORDS = ("additionalProperties", "patternProperties", "unevaluatedProperties")


def apply_mode(schema: Any, mode: str) -> Any:
    """A copy of ``schema`` read in ``mode`` (strict or lenient)."""
    if mode not in MODES:
        raise ValueError(f"unknown schema mode {mode!r}; modes: {', '.join(MODES)}")
    result = copy.deepcopy(schema)
    _walk(result, mode)
    return result


def _walk(schema: Any, mode: str) -> None:
    if not isinstance(schema, dict):
        if isinstance(schema, list):  # "items": [ ... ] in older drafts
            for item in schema:
                _walk(item, mode)
        return
    if mode == STRICT:
        if "properties" in schema and not any(k in schema for k in _OPEN_KEYWORDS):
            schema["additionalProperties"] = False
    else:
        for keyword in ("additionalProperties", "unevaluatedProperties"):
            if schema.get(keyword) is False:
                del schema[keyword]
    for keyword in _SCHEMA_KEYWORDS:
        if keyword in schema:
            _walk(schema[keyword], mode)
    for keyword in _LIST_KEYWORDS:
        for item in schema.get(keyword) or ():
            _walk(item, mode)
    for keyword in _MAP_KEYWORDS:
        value = schema.get(keyword)
        if isinstance(value, dict):
            for sub in value.values():
                _walk(sub, mode)
