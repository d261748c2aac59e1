#!/usr/bin/env python3
"""Scan libalchdb's public headers for the ABI facts the compiler can pin.

  abi_scan.py gen   --out FILE --cc CC --cflags "FLAGS" HEADER...
        compile a probe against the headers and write the pin file (_Static_assert
        of every enum constant's value, every integer-literal ALCHDB_ macro, and
        sizeof/offsetof of every public struct).
  abi_scan.py check --pin FILE HEADER...
        list what the headers declare that the pin file does not pin, and enum
        constants without an explicit value (CONVENTIONS.md: never implicit).

Standard library only. The parser is deliberately small: it understands what
public headers of this project contain (comments, preprocessor lines,
multi-line enums with or without trailing commas, typedef'd and tagged
structs, function-pointer members, arrays, several declarators per line).
"""
import argparse
import os
import re
import subprocess
import sys
import tempfile

# Macros that change on purpose at every release: never pinned.
UNPINNED_MACROS = re.compile(r"^ALCHDB_(VERSION_\w+|ABI_MAJOR)$")
INT_TOKEN = re.compile(r"0[xX][0-9a-fA-F]+[uUlL]*|\d+[uUlL]*|ALCHDB_\w+|<<|>>|[()|&~+\-\s]")


def is_int_constant(value):
    """True for integer constant expressions such as 7, 0x10u, (1u << 3) or
    (ALCHDB_X_A | 0x2) (other pinned names allowed); false for strings, casts,
    function-like bodies and anything naming non-ALCHDB_ identifiers."""
    tokens = INT_TOKEN.findall(value)
    return "".join(tokens) == value and re.search(r"\d", value) is not None


def strip_comments(text):
    """Remove comments but keep string literals and line structure."""
    out, i, n = [], 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("/*", i):
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
            out.append("\n" * text.count("\n", i, j) or " ")
            i = j
        elif text.startswith("//", i):
            j = text.find("\n", i)
            i = n if j < 0 else j
        elif c in "\"'":
            j = i + 1
            while j < n and text[j] != c:
                j += 2 if text[j] == "\\" else 1
            out.append(text[i:j + 1])
            i = j + 1
        else:
            out.append(c)
            i += 1
    return "".join(out)


def join_continuations(text):
    return re.sub(r"\\\n", " ", text)


def split_depth0(s, sep):
    parts, depth, cur = [], 0, []
    for ch in s:
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        if ch == sep and depth == 0:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    parts.append("".join(cur))
    return parts


def matching_brace(text, open_idx):
    depth = 0
    for k in range(open_idx, len(text)):
        if text[k] == "{":
            depth += 1
        elif text[k] == "}":
            depth -= 1
            if depth == 0:
                return k
    raise ValueError("unbalanced braces")


def member_names(body):
    """[(name, is_bitfield)] of the members of a struct body."""
    names = []
    for decl in split_depth0(body, ";"):
        decl = " ".join(decl.split())
        if not decl:
            continue
        if "{" in decl:  # nested struct/union member
            m = re.search(r"\}\s*(\w+)\s*(\[[^\]]*\])*\s*$", decl)
            if m:
                names.append((m.group(1), False))
            continue
        fp = re.search(r"\(\s*\*\s*(\w+)\s*\)", decl)
        if fp:
            names.append((fp.group(1), False))
            continue
        pieces = split_depth0(decl, ",")
        for idx, piece in enumerate(pieces):
            bitfield = bool(re.search(r":\s*\w+\s*$", piece))
            piece = re.sub(r":\s*\w+\s*$", "", piece)
            piece = re.sub(r"\[[^\]]*\]", "", piece).strip()
            ids = re.findall(r"[A-Za-z_]\w*", piece)
            if ids:
                names.append((ids[-1], bitfield))
    return names


def scan(paths):
    enums, structs, macros = [], [], []
    for path in paths:
        base = os.path.basename(path)
        raw = join_continuations(strip_comments(open(path, encoding="utf-8").read()))
        for m in re.finditer(r"^\s*#\s*define\s+(ALCHDB_\w+)\s+(.+?)\s*$", raw, re.M):
            name, value = m.group(1), m.group(2)
            if is_int_constant(value) and not UNPINNED_MACROS.match(name):
                macros.append((name, base))
        code = re.sub(r"^\s*#[^\n]*", "", raw, flags=re.M)
        for m in re.finditer(r"\benum\s*(\w*)\s*\{", code):
            end = matching_brace(code, m.end() - 1)
            consts = []
            for item in split_depth0(code[m.end():end], ","):
                item = item.strip()
                if not item:
                    continue
                cm = re.match(r"([A-Za-z_]\w*)\s*(=)?", item)
                if cm:
                    consts.append((cm.group(1), cm.group(2) is not None))
            enums.append((m.group(1) or "(anonymous)", base, consts))
        for m in re.finditer(r"\b(typedef\s+)?struct\s+(\w*)\s*\{", code):
            start = m.end() - 1
            # Skip structs nested in another struct body (found by the outer one).
            if code.count("{", 0, m.start()) != code.count("}", 0, m.start()):
                continue
            end = matching_brace(code, start)
            tag = m.group(2)
            tail = re.match(r"\s*(\w+)?", code[end + 1:])
            typedef_name = tail.group(1) if (m.group(1) and tail) else None
            if tag:
                type_expr = "struct " + tag
            elif typedef_name:
                type_expr = typedef_name
            else:
                continue
            structs.append((type_expr, base, member_names(code[start + 1:end])))
    return enums, structs, macros


def required_pins(enums, structs, macros):
    keys = []
    for _, _, consts in enums:
        keys += [c for c, _ in consts]
    keys += [name for name, _ in macros]
    for type_expr, _, members in structs:
        keys.append("sizeof(%s)" % type_expr)
        keys += ["offsetof(%s, %s)" % (type_expr, name) for name, bf in members if not bf]
    return keys


def cmd_gen(args):
    enums, structs, macros = scan(args.headers)
    includes = "".join("#include <alchdb/%s>\n" % os.path.basename(h) for h in sorted(args.headers, key=os.path.basename))
    probe = ["#include <stddef.h>", "#include <stdio.h>", includes, "int main(void) {"]
    for _, _, consts in enums:
        for c, _ in consts:
            probe.append('printf("E %%s %%lld\\n", "%s", (long long)(%s));' % (c, c))
    for name, _ in macros:
        probe.append('printf("E %%s %%lld\\n", "%s", (long long)(%s));' % (name, name))
    for type_expr, _, members in structs:
        probe.append('printf("S %%s %%zu\\n", "sizeof(%s)", sizeof(%s));' % (type_expr, type_expr))
        for m, bf in members:
            if not bf:
                probe.append('printf("S %%s %%zu\\n", "offsetof(%s, %s)", offsetof(%s, %s));'
                             % (type_expr, m, type_expr, m))
    probe.append("return 0; }")
    with tempfile.TemporaryDirectory() as tmp:
        src, exe = os.path.join(tmp, "probe.c"), os.path.join(tmp, "probe")
        open(src, "w").write("\n".join(probe) + "\n")
        subprocess.run([args.cc, "-std=c11", "-w"] + args.cflags.split() + [src, "-o", exe],
                       check=True)
        values = {}
        for line in subprocess.run([exe], check=True, capture_output=True,
                                   text=True).stdout.splitlines():
            kind, rest = line.split(" ", 1)
            key, val = rest.rsplit(" ", 1)
            values[key] = val
    out = ["/* GENERATED by tests/gates/gen-abi-pin.sh from the public headers: do not edit.",
           " *",
           " * Compile-time pin of the ABI that abidiff cannot see (enum values passed as",
           " * int, flag macros) and of every public struct's layout. The abi_pin gate",
           " * compiles this committed file against the current headers: a renumbered",
           " * constant or a moved member breaks the build. Regenerate ON PURPOSE only",
           " * (a new constant, an appended struct member): see docs/abi.md. */",
           "#include <stddef.h>", "", includes.rstrip("\n"), ""]
    out.append("/* ---- enum constants ---- */")
    for ename, base, consts in enums:
        out.append("/* enum %s (%s) */" % (ename, base))
        for c, _ in consts:
            out.append('_Static_assert(%s == %s, "pin: %s");' % (c, values[c], c))
    if macros:
        out.append("")
        out.append("/* ---- integer macros (flags, table versions) ---- */")
        for name, base in macros:
            out.append('_Static_assert(%s == %s, "pin: %s");' % (name, values[name], name))
    out.append("")
    out.append("/* ---- struct layouts: sizes and offsets are those of the generating")
    out.append(" * platform (x86_64 LP64, the platform CI runs on) ---- */")
    out.append("#if defined(__x86_64__) && defined(__LP64__)")
    for type_expr, base, members in structs:
        out.append("/* %s (%s) */" % (type_expr, base))
        key = "sizeof(%s)" % type_expr
        out.append('_Static_assert(%s == %s, "pin: %s");' % (key, values[key], key))
        for m, bf in members:
            if bf:
                continue
            key = "offsetof(%s, %s)" % (type_expr, m)
            out.append('_Static_assert(%s == %s, "pin: %s");' % (key, values[key], key))
    out.append("#endif")
    out.append("")
    out.append("/* An ISO C translation unit needs at least one declaration. */")
    out.append("typedef int alchdb_abi_pin_unit;")
    open(args.out, "w").write("\n".join(out) + "\n")
    print("wrote %s: %d enum constants, %d macros, %d structs" %
          (args.out, sum(len(c) for _, _, c in enums), len(macros), len(structs)))
    return 0


def cmd_check(args):
    enums, structs, macros = scan(args.headers)
    pinned = set(re.findall(r'"pin: ([^"]+)"', open(args.pin, encoding="utf-8").read()))
    status = 0
    for key in required_pins(enums, structs, macros):
        if key not in pinned:
            print("UNPINNED %s" % key)
            status = 1
    for ename, base, consts in enums:
        for c, explicit in consts:
            if not explicit:
                print("IMPLICIT %s (enum %s in %s)" % (c, ename, base))
                status = 1
    print("COUNT %d" % len(required_pins(enums, structs, macros)))
    return status


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    g = sub.add_parser("gen")
    g.add_argument("--out", required=True)
    g.add_argument("--cc", default="cc")
    g.add_argument("--cflags", default="")
    g.add_argument("headers", nargs="+")
    c = sub.add_parser("check")
    c.add_argument("--pin", required=True)
    c.add_argument("headers", nargs="+")
    args = ap.parse_args()
    return cmd_gen(args) if args.cmd == "gen" else cmd_check(args)


if __name__ == "__main__":
    sys.exit(main())
