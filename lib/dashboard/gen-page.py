#!/usr/bin/env python3
"""Writes page.c (the web page as a C string) from page.html.
Run after editing page.html: python3 lib/dashboard/gen-page.py
The script's SHA-256 goes into the page's Content-Security-Policy in place of
SCRIPT_HASH (page.html itself keeps the placeholder).
With --check, exits 1 when page.c is out of date (tests/dashboard)."""
import base64
import hashlib
import os
import sys

here = os.path.dirname(os.path.abspath(__file__))


def render():
    html = open(os.path.join(here, "page.html"), encoding="utf-8").read()
    # The page's Content-Security-Policy admits only its own script, by hash:
    # even a value that slipped into the DOM as HTML could not run a script.
    script = html.split("<script>", 1)[1].split("</script>", 1)[0]
    digest = base64.b64encode(hashlib.sha256(script.encode("utf-8")).digest()).decode()
    if html.count("SCRIPT_HASH") != 1:
        sys.exit("gen-page.py: page.html must name SCRIPT_HASH once (its CSP)")
    html = html.replace("SCRIPT_HASH", digest)
    out = ["/* Generated from page.html by gen-page.py: edit page.html, then run it. */",
           '#include "dashboard/dash.h"', "",
           "/* One string per line: ISO C bounds a literal's length. */",
           "const char *const alchdb__dash_page[] = {"]
    for line in html.splitlines():
        esc = line.replace("\\", "\\\\").replace('"', '\\"')
        out.append(f'    "{esc}\\n",')
    out.append("    NULL,")
    out.append("};")
    return "\n".join(out) + "\n"


text = render()
path = os.path.join(here, "page.c")
if "--check" in sys.argv:
    sys.exit(0 if open(path, encoding="utf-8").read() == text else 1)
open(path, "w", encoding="utf-8").write(text)
