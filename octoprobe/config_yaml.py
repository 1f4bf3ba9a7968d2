"""Loading YAML configuration files so that every error says where it is.

Topology files, lab inventories and gate profiles are all small YAML files
written by hand. When one is wrong, the message should name the file, the line
and the key, e.g.::

    lab.yaml:14: racks[2].hosts[0].osds.size: OSD size 1GiB is below the minimum of 2GiB

This module turns YAML text into a tree of :class:`Node` objects that remember
their line and their dotted key path, and offers a few checking helpers that
raise :class:`ConfigError` with that information:

* :func:`load_file` / :func:`load_text` — parse; syntax errors, an empty
  document and duplicate keys in one mapping (which PyYAML silently accepts,
  keeping the last) all become :class:`ConfigError`.
* :func:`check_keys` — refuse unknown keys (listing the allowed ones) and report
  missing required keys.
* :func:`as_str`, :func:`as_int`, :func:`as_bool`, :func:`as_list`,
  :func:`expect_mapping` — check the type of one node;
  :func:`get_str`, :func:`get_int`, :func:`get_bool`, :func:`get_list`,
  :func:`get_mapping` — fetch a key of a mapping node, with an optional default.
* :func:`parse_size` / :func:`format_size` — byte sizes such as ``8GiB``.

Mapping keys are taken as the literal text written in the file, so ``on:`` or
``1:`` are the keys ``"on"`` and ``"1"`` (not YAML 1.1 booleans or integers).
Scalar values are resolved by PyYAML's safe rules (``1500`` is an integer,
``yes`` a boolean, ``8GiB`` a string). Anchors and aliases work; merge keys
(``<<``) are refused to keep the files explicit.
"""

from __future__ import annotations

import difflib
import os
import re
from dataclasses import dataclass
from typing import Any, Iterable

import yaml
from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, ScalarNode, SequenceNode

__all__ = [
    "ConfigError",
    "Node",
    "load_file",
    "load_text",
    "describe",
    "expect_mapping",
    "check_keys",
    "as_str",
    "as_int",
    "as_bool",
    "as_list",
    "get_mapping",
    "get_str",
    "get_int",
    "get_bool",
    "get_list",
    "parse_size",
    "format_size",
]


class ConfigError(ValueError):
    """A configuration file is wrong; says where and why.

    ``str()`` is ``"{path}:{line}: {key}: {message}"``; parts that are None are
    left out. ``line`` is 1-based; ``key`` is a dotted path such as
    ``racks[2].hosts[0].osds.size`` (None for the document as a whole).
    """

    def __init__(
        self,
        message: str,
        *,
        path: str | os.PathLike[str] | None = None,
        line: int | None = None,
        key: str | None = None,
    ):
        self.message = message
        self.path = None if path is None else os.fspath(path)
        self.line = line
        self.key = key
        super().__init__(self._render())

    def _render(self) -> str:
        parts = []
        if self.path is not None:
            parts.append(self.path if self.line is None else f"{self.path}:{self.line}")
        elif self.line is not None:
            parts.append(f"line {self.line}")
        if self.key:
            parts.append(self.key)
        parts.append(self.message)
        return ": ".join(parts)

    def __str__(self) -> str:
        return self._render()


MAPPING = "mapping"
SEQUENCE = "sequence"
SCALAR = "scalar"


@dataclass(frozen=True, eq=False)
class Node:
    """One value of a loaded document, with where it came from.

    ``value`` is a ``dict[str, Node]`` (in file order) for a mapping, a
    ``list[Node]`` for a sequence, and the plain Python value for a scalar
    (str, int, float, bool, None, ...). ``line`` is where the value starts;
    ``key_line`` is where the key naming it was written (None for list items
    and the root), which is the better place to point at for "unknown key".
    """

    kind: str
    value: Any
    path: str
    line: int
    key: str | None = None
    key_line: int | None = None

    @property
    def is_null(self) -> bool:
        return self.kind == SCALAR and self.value is None

    def child_key(self, name: str | int) -> str:
        """The dotted key path of a child: ``a.b`` for a name, ``a[3]`` for an index."""
        if isinstance(name, int):
            return f"{self.key or ''}[{name}]"
        return f"{self.key}.{name}" if self.key else name

    def error(self, message: str, *, at_key: bool = False) -> ConfigError:
        """A :class:`ConfigError` pointing at this node (or at its key's line)."""
        line = self.key_line if at_key and self.key_line is not None else self.line
        return ConfigError(message, path=self.path, line=line, key=self.key)

    def plain(self) -> Any:
        """The value as plain dicts, lists and scalars, without line information."""
        if self.kind == MAPPING:
            return {name: child.plain() for name, child in self.value.items()}
        if self.kind == SEQUENCE:
            return [item.plain() for item in self.value]
        return self.value


# ---------------------------------------------------------------- loading

_MERGE_TAG = "tag:yaml.org,2002:merge"
_NULL_TAG = "tag:yaml.org,2002:null"
# Aliases can make a small file expand enormously ("billion laughs"); a
# configuration file never legitimately has this many values.
_MAX_NODES = 100_000


def load_file(path: str | os.PathLike[str]) -> Node:
    """Read and parse a YAML file; any problem (including an unreadable file) is a ConfigError."""
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise ConfigError(f"cannot read the file: {reason}", path=path) from None
    return load_text(text, path)


def load_text(text: str, path: str | os.PathLike[str] = "<string>") -> Node:
    """Parse YAML text (one document) into a :class:`Node` tree.

    ``path`` is only used in error messages and recorded in the nodes.
    """
    path = os.fspath(path)
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        if root is None or (isinstance(root, ScalarNode) and root.tag == _NULL_TAG):
            raise ConfigError("the file is empty", path=path, line=1)
        return _Builder(path).build(root, None, None)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        message = exc.problem or exc.context or "syntax error"
        if exc.context and exc.problem:
            message = f"{exc.problem} ({exc.context})"
        raise ConfigError(
            f"invalid YAML: {message}",
            path=path,
            line=None if mark is None else mark.line + 1,
        ) from None
    except yaml.reader.ReaderError as exc:
        # Unprintable characters and the like: only a character position is known.
        line = text.count("\n", 0, exc.position) + 1 if isinstance(text, str) else None
        raise ConfigError(f"invalid YAML: {exc.reason}", path=path, line=line) from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"invalid YAML: {exc}", path=path) from None


class _Builder:
    def __init__(self, path: str):
        self.path = path
        self.constructor = SafeConstructor()
        self.open_nodes: set[int] = set()
        self.count = 0

    def _error(self, message: str, line: int, key: str | None) -> ConfigError:
        return ConfigError(message, path=self.path, line=line, key=key)

    def build(self, ynode: yaml.Node, key: str | None, key_line: int | None) -> Node:
        line = ynode.start_mark.line + 1
        self.count += 1
        if self.count > _MAX_NODES:
            raise self._error(f"too many values (more than {_MAX_NODES}, counting aliases)", line, key)
        if id(ynode) in self.open_nodes:
            raise self._error("an alias refers to a value that contains it", line, key)
        self.open_nodes.add(id(ynode))
        try:
            if isinstance(ynode, MappingNode):
                return Node(MAPPING, self._mapping(ynode, key), self.path, line, key, key_line)
            if isinstance(ynode, SequenceNode):
                items = [
                    self.build(item, f"{key or ''}[{i}]", None) for i, item in enumerate(ynode.value)
                ]
                return Node(SEQUENCE, items, self.path, line, key, key_line)
            value = self.constructor.construct_object(ynode)
            return Node(SCALAR, value, self.path, line, key, key_line)
        finally:
            self.open_nodes.discard(id(ynode))

    def _mapping(self, ynode: MappingNode, key: str | None) -> dict[str, Node]:
        children: dict[str, Node] = {}
        for key_node, value_node in ynode.value:
            key_line = key_node.start_mark.line + 1
            if key_node.tag == _MERGE_TAG:
                raise self._error("merge keys ('<<') are not supported", key_line, key)
            if not isinstance(key_node, ScalarNode):
                raise self._error("a key must be a plain string, not a list or mapping", key_line, key)
            name = key_node.value
            child_key = f"{key}.{name}" if key else name
            if name in children:
                first = children[name].key_line
                raise self._error(f"duplicate key {name!r} (first given on line {first})", key_line, child_key)
            children[name] = self.build(value_node, child_key, key_line)
        return children


# ---------------------------------------------------------------- checking


def describe(node: Node) -> str:
    """What a node holds, for messages: 'a mapping', 'a list', 'a string', ..."""
    if node.kind == MAPPING:
        return "a mapping"
    if node.kind == SEQUENCE:
        return "a list"
    value = node.value
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return f"a boolean ({'true' if value else 'false'})"
    if isinstance(value, int):
        return f"an integer ({value})"
    if isinstance(value, float):
        return f"a number ({value})"
    if isinstance(value, str):
        return f"a string ({value!r})"
    return f"a {type(value).__name__} ({value})"


def expect_mapping(node: Node) -> dict[str, Node]:
    """The children of a mapping node; a ConfigError if it is anything else."""
    if node.kind != MAPPING:
        raise node.error(f"expected a mapping, got {describe(node)}")
    return node.value


def check_keys(node: Node, allowed: Iterable[str] = (), required: Iterable[str] = ()) -> dict[str, Node]:
    """Check a mapping node's keys and return its children.

    Every key must be in ``allowed`` or ``required``; every key in
    ``required`` must be present. Unknown keys are reported first (a typo
    usually also makes a required key look missing), at the unknown key's line,
    with a suggestion and the list of allowed keys. A missing key is reported
    at the mapping's line, with the key path it should have had.
    """
    children = expect_mapping(node)
    required = list(required)
    permitted = set(allowed) | set(required)
    for name, child in children.items():
        if name not in permitted:
            message = f"unknown key {name!r}"
            close = difflib.get_close_matches(name, permitted, n=1)
            if close:
                message += f" (did you mean {close[0]!r}?)"
            if permitted:
                message += "; allowed keys: " + ", ".join(sorted(permitted))
            else:
                message += "; no keys are allowed here"
            raise child.error(message, at_key=True)
    for name in required:
        if name not in children:
            raise ConfigError(
                f"missing required key {name!r}", path=node.path, line=node.line, key=node.child_key(name)
            )
    return children


def as_str(node: Node) -> str:
    if node.kind != SCALAR or not isinstance(node.value, str):
        hint = " (quote it if it is meant as text)" if node.kind == SCALAR and node.value is not None else ""
        raise node.error(f"expected a string, got {describe(node)}{hint}")
    return node.value


def as_int(node: Node, *, min: int | None = None, max: int | None = None) -> int:
    """An integer node, optionally within ``min``..``max`` (inclusive)."""
    value = node.value
    if node.kind != SCALAR or isinstance(value, bool) or not isinstance(value, int):
        raise node.error(f"expected an integer, got {describe(node)}")
    if min is not None and max is not None and not min <= value <= max:
        raise node.error(f"must be between {min} and {max}, got {value}")
    if min is not None and value < min:
        raise node.error(f"must be at least {min}, got {value}")
    if max is not None and value > max:
        raise node.error(f"must be at most {max}, got {value}")
    return value


def as_bool(node: Node) -> bool:
    if node.kind != SCALAR or not isinstance(node.value, bool):
        raise node.error(f"expected true or false, got {describe(node)}")
    return node.value


def as_list(node: Node, *, min_items: int = 0) -> list[Node]:
    """The items of a list node (a YAML sequence)."""
    if node.kind != SEQUENCE:
        raise node.error(f"expected a list, got {describe(node)}")
    if len(node.value) < min_items:
        raise node.error(f"expected at least {min_items} item{'s' if min_items != 1 else ''}, got {len(node.value)}")
    return node.value


_REQUIRED: Any = object()


def _child(node: Node, name: str, default: Any) -> Node | None:
    child = expect_mapping(node).get(name)
    if child is None and default is _REQUIRED:
        raise ConfigError(f"missing required key {name!r}", path=node.path, line=node.line, key=node.child_key(name))
    return child


def get_mapping(node: Node, name: str, *, required: bool = False) -> Node | None:
    """The mapping node under ``name``; None when the key is absent or empty (null).

    An empty block (a key whose contents are all commented out) thus counts as
    absent, so every default applies.
    """
    child = _child(node, name, _REQUIRED if required else None)
    if child is None or child.is_null:
        if required:
            raise (child or node).error(f"{name!r} must not be empty")
        return None
    expect_mapping(child)
    return child


def get_str(node: Node, name: str, default: Any = _REQUIRED) -> str:
    child = _child(node, name, default)
    return default if child is None else as_str(child)


def get_int(node: Node, name: str, default: Any = _REQUIRED, *, min: int | None = None, max: int | None = None) -> int:
    child = _child(node, name, default)
    return default if child is None else as_int(child, min=min, max=max)


def get_bool(node: Node, name: str, default: Any = _REQUIRED) -> bool:
    child = _child(node, name, default)
    return default if child is None else as_bool(child)


def get_list(node: Node, name: str, default: Any = _REQUIRED, *, min_items: int = 0) -> list[Node]:
    child = _child(node, name, default)
    return default if child is None else as_list(child, min_items=min_items)


# ---------------------------------------------------------------- sizes

_SIZE_UNITS = {"": 1, "B": 1}
for _exp, _letter in enumerate("KMGT", start=1):
    for _suffix in ("", "i", "B", "iB"):
        _SIZE_UNITS[_letter + _suffix] = 1024**_exp
_SIZE_RE = re.compile(r"\s*(\d+)\s*([A-Za-z]*)\s*")


def parse_size(text: str | int) -> int:
    """A size in bytes from ``8GiB``, ``512MiB``, ``1TiB``, ``4096`` and the like.

    Units are K, M, G and T, each optionally followed by ``i`` and/or ``B``
    (``8G``, ``8Gi``, ``8GB``, ``8GiB``). All of them are binary: ``8G`` and
    ``8GB`` mean 8 GiB = 8 * 1024**3 bytes, like ``qemu-img`` and ``truncate``
    read them, never 8 * 10**9. A plain integer (or a string of digits, or
    ``B``) is a number of bytes. Only whole numbers are accepted. Anything else
    raises ValueError with a message meant for the user.
    """
    if isinstance(text, int) and not isinstance(text, bool):
        if text < 0:
            raise ValueError(f"invalid size {text}: must not be negative")
        return text
    if not isinstance(text, str):
        raise ValueError(f"invalid size {text!r}: expected a size such as 8GiB, 512MiB or a number of bytes")
    match = _SIZE_RE.fullmatch(text)
    if not match or match.group(2) not in _SIZE_UNITS:
        raise ValueError(
            f"invalid size {text!r}: expected a whole number with an optional unit "
            "K, M, G or T (binary: 8G = 8GiB), e.g. 8GiB, 512MiB, 1TiB, or a number of bytes"
        )
    return int(match.group(1)) * _SIZE_UNITS[match.group(2)]


def format_size(size: int) -> str:
    """The shortest exact spelling of a byte count: ``8GiB``, ``1536MiB``, ``1000B``."""
    for unit, factor in (("TiB", 1024**4), ("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024)):
        if size and size % factor == 0:
            return f"{size // factor}{unit}"
    return f"{size}B"
