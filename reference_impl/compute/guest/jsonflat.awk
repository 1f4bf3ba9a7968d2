# Flatten one JSON document into lines "PATH<TAB>VALUE", one per scalar leaf.
# PATH joins object keys and array indexes with dots (links.0.ethernet_mac_address);
# null is left out; strings are unescaped, a newline inside a value is written as \n.
# The octoprobe guest reads its config drive (meta_data.json, network_data.json)
# with it: busybox has awk but no JSON tool.
BEGIN { RS = "\001"; failed = 0 }
{ doc = doc $0 }
END {
    s = doc; n = length(s); pos = 1
    skip()
    if (pos <= n) value("")
    skip()
    if (!failed && pos <= n) fail("trailing characters")
    exit failed
}
function fail(msg) {
    if (!failed) printf("jsonflat: %s at offset %d\n", msg, pos) > "/dev/stderr"
    failed = 1; pos = n + 1
}
function skip() {
    while (pos <= n && index(" \t\r\n", substr(s, pos, 1)) > 0) pos++
}
function join(path, key) {
    return path == "" ? key : path "." key
}
function emit(path, v) {
    gsub(/\n/, "\\n", v)
    print path "\t" v
}
function str(    c, out) {
    if (substr(s, pos, 1) != "\"") { fail("expected a string"); return "" }
    pos++; out = ""
    while (pos <= n) {
        c = substr(s, pos, 1)
        if (c == "\\") {
            pos++; c = substr(s, pos, 1)
            if (c == "n") out = out "\n"
            else if (c == "t") out = out "\t"
            else if (c == "r") out = out "\r"
            else if (c == "b" || c == "f") out = out
            else if (c == "u") { out = out "\\u" substr(s, pos + 1, 4); pos += 4 }
            else out = out c
        } else if (c == "\"") {
            pos++; return out
        } else {
            out = out c
        }
        pos++
    }
    fail("unterminated string"); return ""
}
function value(path,    c, k, i, v) {
    skip(); c = substr(s, pos, 1)
    if (c == "{") {
        pos++; skip()
        if (substr(s, pos, 1) == "}") { pos++; return }
        while (!failed) {
            skip(); k = str(); skip()
            if (substr(s, pos, 1) != ":") { fail("expected ':'"); return }
            pos++
            value(join(path, k))
            skip(); c = substr(s, pos, 1); pos++
            if (c == "}") return
            if (c != ",") { fail("expected ',' or '}'"); return }
        }
        return
    }
    if (c == "[") {
        pos++; skip(); i = 0
        if (substr(s, pos, 1) == "]") { pos++; return }
        while (!failed) {
            value(join(path, i)); i++
            skip(); c = substr(s, pos, 1); pos++
            if (c == "]") return
            if (c != ",") { fail("expected ',' or ']'"); return }
        }
        return
    }
    if (c == "\"") { v = str(); if (!failed) emit(path, v); return }
    v = ""
    while (pos <= n && index(",}] \t\r\n", substr(s, pos, 1)) == 0) { v = v substr(s, pos, 1); pos++ }
    if (v == "") { fail("expected a value"); return }
    if (v != "null") emit(path, v)
}
