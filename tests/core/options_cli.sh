#!/usr/bin/env bash
# `alchdb options`: the listing in text, JSON and Markdown for one module and
# for all; JSON that parses and holds every option; usage errors exit 2.
#   tests/core/options_cli.sh PATH_TO_ALCHDB
set -euo pipefail
CLI=${1:?usage: options_cli.sh ALCHDB}
fail() { echo "FAIL: $*" >&2; exit 1; }

out=$("$CLI" options pool)
grep -q '^  max_open_conns *integer *default 100, 1 .. 10000$' <<< "$out" || fail "text: $out"
grep -q 'conn_max_lifetime *duration *default 30m' <<< "$out" || fail "text duration: $out"

md=$("$CLI" options cache --format md)
head -1 <<< "$md" | grep -q '^| option | type | default | range | description |$' || fail "md header: $md"
grep -q '^| `redis_password` | string | (none) |  | .*secret' <<< "$md" || fail "md secret: $md"
grep -q '^| `memory_bytes` | size | 64MiB | 64KiB .. 1024GiB |' <<< "$md" || fail "md size: $md"
# a conninfo option says that its passwords are shown as ***, in every format
for m in advisor migration; do
  grep -q '^| `conninfo` | string | (none) |  | .*(shown with passwords as \*\*\*) |$' <<< "$("$CLI" options $m --format md)" ||
    fail "md conninfo of $m"
  "$CLI" options $m | grep -q '^ *libpq conninfo .*(shown with passwords as \*\*\*)$' || fail "text conninfo of $m"
  "$CLI" options $m --format json | python3 -c '
import json, sys
opts = {o["name"]: o for o in json.load(sys.stdin)["modules"][0]["options"]}
assert opts["conninfo"].get("conninfo") is True and "secret" not in opts["conninfo"], opts["conninfo"]
' || fail "json conninfo of $m"
done

# JSON of every module parses and lists each module's options.
"$CLI" options --format json | python3 -c '
import json, sys
doc = json.load(sys.stdin)
mods = {m["module"]: m["options"] for m in doc["modules"]}
for m in ("pool", "router", "cache", "monitor"):
    assert m in mods and mods[m], m
assert any(o["name"] == "policy" for o in mods["router"])
' || fail "json"

all=$("$CLI" options)
for m in pool router cache monitor; do grep -q "^$m:$" <<< "$all" || fail "all: no $m"; done

"$CLI" options --help | grep -q '^usage: alchdb options' || fail "help"
set +e
"$CLI" options nosuchmodule >/dev/null 2>&1; [ $? -eq 2 ] || fail "unknown module must exit 2"
"$CLI" options pool --format xml >/dev/null 2>&1; [ $? -eq 2 ] || fail "bad format must exit 2"
"$CLI" options pool router >/dev/null 2>&1; [ $? -eq 2 ] || fail "two modules must exit 2"
"$CLI" options --bogus >/dev/null 2>&1; [ $? -eq 2 ] || fail "unknown flag must exit 2"
echo ok
