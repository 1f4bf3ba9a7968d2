"""Unit tests for octoprobe.config_yaml: line-aware YAML loading and checking."""

from __future__ import annotations

import pickle
import textwrap

import pytest

from octoprobe.config_yaml import (
    ConfigError,
    as_bool,
    as_int,
    as_list,
    as_str,
    check_keys,
    expect_mapping,
    format_size,
    get_bool,
    get_int,
    get_list,
    get_mapping,
    get_str,
    load_file,
    load_text,
    parse_size,
)

GiB = 1024**3
MiB = 1024**2


def doc(text: str) -> str:
    return textwrap.dedent(text).lstrip("\n")


def fails(text: str, path: str = "cfg.yaml") -> ConfigError:
    with pytest.raises(ConfigError) as info:
        load_text(text, path)
    return info.value


# ---------------------------------------------------------------- ConfigError


def test_config_error_str_has_all_parts():
    err = ConfigError("too small", path="t.yaml", line=7, key="racks[2].hosts[0].osds.size")
    assert str(err) == "t.yaml:7: racks[2].hosts[0].osds.size: too small"
    assert (err.path, err.line, err.key, err.message) == ("t.yaml", 7, "racks[2].hosts[0].osds.size", "too small")
    assert isinstance(err, ValueError)


@pytest.mark.parametrize(
    "kwargs, expected",
    [
        (dict(path="t.yaml", line=3), "t.yaml:3: boom"),
        (dict(path="t.yaml", key="a.b"), "t.yaml: a.b: boom"),
        (dict(path="t.yaml"), "t.yaml: boom"),
        (dict(line=3, key="a"), "line 3: a: boom"),
        (dict(key="a"), "a: boom"),
        ({}, "boom"),
    ],
)
def test_config_error_str_omits_missing_parts(kwargs, expected):
    assert str(ConfigError("boom", **kwargs)) == expected


def test_config_error_survives_pickling():
    err = pickle.loads(pickle.dumps(ConfigError("boom", path="t.yaml", line=2, key="k")))
    assert "t.yaml:2: k: boom" in str(err)


# ---------------------------------------------------------------- loading


def test_nodes_know_their_line_and_key():
    root = load_text(
        doc(
            """
            # a comment
            top:
              name: abc
              items:
                - 1
                - {size: 8GiB, on: yes}
            """
        ),
        "x.yaml",
    )
    assert root.path == "x.yaml" and root.key is None and root.line == 2
    top = expect_mapping(root)["top"]
    assert (top.key, top.key_line, top.line) == ("top", 2, 3)
    name = top.value["name"]
    assert (name.key, name.line, name.value) == ("top.name", 3, "abc")
    items = as_list(top.value["items"])
    assert [i.key for i in items] == ["top.items[0]", "top.items[1]"]
    assert [i.line for i in items] == [5, 6]
    inner = expect_mapping(items[1])
    # keys are the literal text; values follow YAML's safe resolution
    assert list(inner) == ["size", "on"]
    assert inner["on"].value is True
    assert inner["size"].key == "top.items[1].size"
    assert root.plain() == {"top": {"name": "abc", "items": [1, {"size": "8GiB", "on": True}]}}


def test_aliases_are_followed():
    root = load_text("base: &b {n: 1}\nother: *b\n")
    assert root.plain() == {"base": {"n": 1}, "other": {"n": 1}}
    assert root.value["other"].value["n"].key == "other.n"


def test_recursive_alias_is_refused():
    err = fails("a: &x [1, *x]\n")
    assert "alias" in err.message and err.line == 1


def test_merge_keys_are_refused():
    err = fails("base: &b {n: 1}\nother:\n  <<: *b\n  m: 2\n")
    assert err.line == 3 and err.key == "other" and "merge" in err.message


@pytest.mark.parametrize(
    "text, line",
    [
        ("a: 1\nb: [1, 2\n", 3),  # unclosed flow sequence: found at end of input
        ("a: 1\nb:\n\t- 1\n", 3),  # tab indentation
        ("a: 1\nb: c: d\n", 2),
        ("a: 1\n---\nb: 2\n", 2),  # more than one document
        ("a: !custom 1\n", 1),  # a tag the safe loader does not know
    ],
)
def test_yaml_errors_become_config_errors_with_line(text, line):
    err = fails(text)
    assert err.path == "cfg.yaml"
    assert err.line == line
    assert err.message.startswith("invalid YAML")
    assert str(err).startswith(f"cfg.yaml:{line}: invalid YAML")


def test_unprintable_character_is_reported_with_its_line():
    err = fails("a: 1\nb: \x07\n")
    assert err.line == 2 and "invalid YAML" in err.message


@pytest.mark.parametrize("text", ["", "   \n", "# only a comment\n", "---\n", "~\n"])
def test_empty_document_is_refused(text):
    err = fails(text)
    assert (err.path, err.line, err.message) == ("cfg.yaml", 1, "the file is empty")


def test_duplicate_key_is_refused_at_second_occurrence():
    err = fails(doc("""
        outer:
          name: a
          size: 1
          name: b
        """))
    assert err.line == 4
    assert err.key == "outer.name"
    assert "duplicate key 'name'" in err.message and "line 2" in err.message


def test_duplicate_key_in_flow_mapping_and_top_level():
    assert fails("x: {a: 1, a: 2}\n").key == "x.a"
    err = fails("a: 1\nb: 2\na: 3\n")
    assert (err.line, err.key) == (3, "a")


def test_same_key_in_different_mappings_is_fine():
    root = load_text("a: {n: 1}\nb: {n: 2}\n")
    assert root.plain() == {"a": {"n": 1}, "b": {"n": 2}}


def test_load_file(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("a: 1\na: 2\n")
    with pytest.raises(ConfigError) as info:
        load_file(path)
    assert info.value.path == str(path) and info.value.line == 2
    assert str(info.value).startswith(f"{path}:2: a: duplicate key")

    path.write_text("a: 1\n")
    assert load_file(path).plain() == {"a": 1}


def test_load_file_missing(tmp_path):
    missing = tmp_path / "nope.yaml"
    with pytest.raises(ConfigError) as info:
        load_file(missing)
    assert info.value.path == str(missing) and "cannot read" in info.value.message


# ---------------------------------------------------------------- checking


def test_check_keys_unknown_key_names_it_and_lists_allowed():
    root = load_text("name: a\nsise: 3\n", "c.yaml")
    with pytest.raises(ConfigError) as info:
        check_keys(root, allowed=("size", "count"), required=("name",))
    err = info.value
    assert (err.line, err.key) == (2, "sise")
    assert "unknown key 'sise'" in err.message
    assert "did you mean 'size'" in err.message
    assert "allowed keys: count, name, size" in err.message
    assert str(err).startswith("c.yaml:2: sise: unknown key")


def test_check_keys_unknown_key_points_at_the_key_not_the_block():
    root = load_text("outer:\n  extra:\n    a: 1\n")
    with pytest.raises(ConfigError) as info:
        check_keys(root.value["outer"], allowed=("x",))
    assert (info.value.line, info.value.key) == (2, "outer.extra")


def test_check_keys_missing_required():
    root = load_text("items:\n  - size: 1\n")
    item = as_list(root.value["items"])[0]
    with pytest.raises(ConfigError) as info:
        check_keys(item, allowed=("size",), required=("name",))
    assert (info.value.line, info.value.key) == (2, "items[0].name")
    assert "missing required key 'name'" in info.value.message


def test_check_keys_returns_children_and_refuses_non_mappings():
    root = load_text("a: 1\n")
    assert set(check_keys(root, allowed=("a", "b"))) == {"a"}
    with pytest.raises(ConfigError, match="expected a mapping, got a list"):
        check_keys(load_text("- 1\n"), allowed=("a",))


def test_typed_converters():
    root = load_text(
        "s: text\ni: 42\nb: true\nl: [1, 2]\nn:\nf: 1.5\nq: '7'\nyes_word: yes\n"
    )
    v = root.value
    assert as_str(v["s"]) == "text"
    assert as_int(v["i"]) == 42
    assert as_bool(v["b"]) is True
    assert [n.value for n in as_list(v["l"])] == [1, 2]
    assert as_bool(v["yes_word"]) is True

    with pytest.raises(ConfigError, match=r"expected an integer, got a string \('text'\)"):
        as_int(v["s"])
    with pytest.raises(ConfigError, match="expected an integer, got a boolean"):
        as_int(v["b"])  # bool is an int in Python, not in a config file
    with pytest.raises(ConfigError, match="expected an integer, got a number"):
        as_int(v["f"])
    with pytest.raises(ConfigError, match="expected an integer, got a string"):
        as_int(v["q"])  # no silent coercion of quoted numbers
    with pytest.raises(ConfigError, match=r"expected a string, got an integer \(42\)"):
        as_str(v["i"])
    with pytest.raises(ConfigError, match=r"expected a string, got nothing \(null\)"):
        as_str(v["n"])
    with pytest.raises(ConfigError, match="expected true or false"):
        as_bool(v["i"])
    with pytest.raises(ConfigError, match="expected a list, got a string"):
        as_list(v["s"])
    with pytest.raises(ConfigError, match="expected at least 3 items, got 2"):
        as_list(v["l"], min_items=3)


def test_as_int_range():
    node = load_text("n: 5\n").value["n"]
    assert as_int(node, min=5, max=5) == 5
    with pytest.raises(ConfigError, match="must be at least 6, got 5"):
        as_int(node, min=6)
    with pytest.raises(ConfigError, match="must be at most 4, got 5"):
        as_int(node, max=4)
    with pytest.raises(ConfigError, match="must be between 6 and 9, got 5") as info:
        as_int(node, min=6, max=9)
    assert (info.value.line, info.value.key) == (1, "n")


def test_getters_with_defaults_and_missing_keys():
    root = load_text("wrap:\n  s: a\n  i: 3\n  b: false\n  l: [x]\n  empty:\n  m: {k: 1}\n")
    m = root.value["wrap"]
    assert get_str(m, "s") == "a"
    assert get_str(m, "absent", "dflt") == "dflt"
    assert get_int(m, "i", min=1) == 3
    assert get_int(m, "absent", 9) == 9
    assert get_bool(m, "b") is False
    assert get_bool(m, "absent", True) is True
    assert [n.value for n in get_list(m, "l")] == ["x"]
    assert get_list(m, "absent", []) == []
    assert get_mapping(m, "absent") is None
    assert get_mapping(m, "empty") is None  # an empty block counts as absent
    assert get_mapping(m, "m").value["k"].value == 1
    with pytest.raises(ConfigError) as info:
        get_int(m, "count")
    assert (info.value.line, info.value.key) == (2, "wrap.count")
    assert "missing required key 'count'" in info.value.message
    with pytest.raises(ConfigError, match="expected a mapping"):
        get_mapping(m, "s")
    with pytest.raises(ConfigError, match="must not be empty"):
        get_mapping(m, "empty", required=True)


# ---------------------------------------------------------------- sizes


@pytest.mark.parametrize(
    "text, expected",
    [
        ("8GiB", 8 * GiB),
        ("512MiB", 512 * MiB),
        ("1TiB", 1024 * GiB),
        ("8G", 8 * GiB),  # binary even without the i
        ("8GB", 8 * GiB),
        ("8Gi", 8 * GiB),
        ("4KiB", 4096),
        ("2M", 2 * MiB),
        ("4096", 4096),
        ("4096B", 4096),
        (" 8 GiB ", 8 * GiB),
        ("0", 0),
        (4096, 4096),
    ],
)
def test_parse_size(text, expected):
    assert parse_size(text) == expected


@pytest.mark.parametrize("text", ["", "eight", "GiB", "8XB", "1.5GiB", "-1", "8 gigs", "8gib", "8PiB", -1, True, 1.5, None])
def test_parse_size_refuses(text):
    with pytest.raises(ValueError, match="invalid size"):
        parse_size(text)


def test_format_size():
    assert format_size(8 * GiB) == "8GiB"
    assert format_size(1536 * MiB) == "1536MiB"
    assert format_size(1024**4) == "1TiB"
    assert format_size(1000) == "1000B"
    assert format_size(0) == "0B"
