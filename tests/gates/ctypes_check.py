#!/usr/bin/env python3
"""Gate: drive the INSTALLED libalchdb through Python ctypes (standard library only).

  python3 tests/gates/ctypes_check.py /path/to/installed/libalchdb.so.1

Checks the version, that the last-error detail is thread-local (two Python
threads, i.e. two OS threads, each see only their own error), and the SQL
analysis API (alchdb_sql_analyze / alchdb_sql_analysis_to_json). Prints
PASS/FAIL lines; exits 1 on any failure.
"""
import ctypes
import json
import sys
import threading

failures = 0


def check(ok, what):
    global failures
    print(("PASS: " if ok else "FAIL: ") + what)
    if not ok:
        failures += 1


def main(path):
    lib = ctypes.CDLL(path)
    c_int, c_char_p, c_void_p, c_size_t = ctypes.c_int, ctypes.c_char_p, ctypes.c_void_p, ctypes.c_size_t

    lib.alchdb_version.restype = ctypes.c_uint32
    lib.alchdb_version_string.restype = c_char_p
    lib.alchdb_strerror.restype = c_char_p
    lib.alchdb_strerror.argtypes = [c_int]
    lib.alchdb_last_error_code.restype = c_int
    lib.alchdb_last_error_message.restype = c_char_p
    lib.alchdb_clear_error.restype = None
    lib.alchdb_set_log_handler.restype = c_int
    lib.alchdb_set_log_handler.argtypes = [c_void_p, c_void_p, c_int]
    lib.alchdb_set_allocator.restype = c_int
    lib.alchdb_set_allocator.argtypes = [c_void_p]
    lib.alchdb_free.restype = None
    lib.alchdb_free.argtypes = [c_void_p]

    # ---- version
    vs = lib.alchdb_version_string().decode()
    vn = lib.alchdb_version()
    parts = vs.split(".")
    check(len(parts) == 3 and all(p.isdigit() for p in parts), "alchdb_version_string() = %r" % vs)
    if len(parts) == 3 and all(p.isdigit() for p in parts):
        want = (int(parts[0]) << 16) | (int(parts[1]) << 8) | int(parts[2])
        check(vn == want, "alchdb_version() = 0x%06x matches the string" % vn)

    # ---- thread-local last error: thread A fails one way, thread B another;
    # each reads back only its own failure, the main thread sees none.
    class BadAllocator(ctypes.Structure):
        _fields_ = [("version", ctypes.c_uint32), ("user_data", c_void_p),
                    ("malloc_fn", c_void_p), ("realloc_fn", c_void_p), ("free_fn", c_void_p)]

    lib.alchdb_clear_error()
    barrier = threading.Barrier(2)
    seen = {}

    def thread_a():
        rc = lib.alchdb_set_log_handler(None, None, 99)
        barrier.wait()          # 1: A has failed before B looks
        barrier.wait()          # 2: both have failed before either reads
        seen["a"] = (rc, lib.alchdb_last_error_code(), lib.alchdb_last_error_message().decode())

    def thread_b():
        barrier.wait()          # 1
        before = lib.alchdb_last_error_code()
        bad = BadAllocator(version=999)
        rc = lib.alchdb_set_allocator(ctypes.byref(bad))
        barrier.wait()          # 2
        seen["b"] = (rc, lib.alchdb_last_error_code(), lib.alchdb_last_error_message().decode(), before)

    ta, tb = threading.Thread(target=thread_a), threading.Thread(target=thread_b)
    ta.start(); tb.start(); ta.join(); tb.join()
    a, b = seen.get("a"), seen.get("b")
    check(a is not None and a[0] == -1 and a[1] == -1 and "level" in a[2],
          "thread A: set_log_handler(level 99) -> ALCHDB_E_INVALID naming 'level' (%r)" % (a,))
    check(b is not None and b[0] == -1 and b[1] == -1 and "allocator" in b[2] and "level" not in b[2],
          "thread B: its own error only, naming 'allocator' (%r)" % (b,))
    check(b is not None and b[3] == 0, "thread B started with no error while thread A had one")
    check(lib.alchdb_last_error_code() == 0 and lib.alchdb_last_error_message() == b"",
          "main thread: no error after both threads failed")
    check(lib.alchdb_strerror(-1) == b"invalid argument", "alchdb_strerror(-1)")

    # ---- SQL analysis (lib/sql): mandatory.
    if not hasattr(lib, "alchdb_sql_analyze"):
        check(False, "alchdb_sql_analyze is not exported by %s" % path)
        return
    lib.alchdb_sql_analyze.restype = c_int
    lib.alchdb_sql_analyze.argtypes = [c_char_p, c_size_t, ctypes.POINTER(c_void_p)]
    lib.alchdb_sql_analysis_to_json.restype = c_int
    lib.alchdb_sql_analysis_to_json.argtypes = [c_void_p, ctypes.POINTER(c_void_p)]
    lib.alchdb_sql_analysis_free.restype = None
    lib.alchdb_sql_analysis_free.argtypes = [c_void_p]

    sql = b"SELECT * FROM app.users WHERE id = 1"
    analysis = c_void_p()
    rc = lib.alchdb_sql_analyze(sql, len(sql), ctypes.byref(analysis))
    check(rc == 0 and analysis.value, "alchdb_sql_analyze(%r) = %d" % (sql.decode(), rc))
    if rc != 0 or not analysis.value:
        print("    detail: %s" % lib.alchdb_last_error_message().decode())
        return
    out = c_void_p()
    rc = lib.alchdb_sql_analysis_to_json(analysis, ctypes.byref(out))
    check(rc == 0 and out.value, "alchdb_sql_analysis_to_json = %d" % rc)
    text = ctypes.string_at(out.value).decode() if out.value else ""
    lib.alchdb_free(out)
    lib.alchdb_sql_analysis_free(analysis)
    try:
        doc = json.loads(text)
        st = doc["statements"][0]
        check(len(doc["statements"]) == 1, "one statement")
        check(st["kind"] == "select" and st["read_only"] is True, "kind select, read-only")
        check({"schema": "app", "name": "users"} in st["tables_read"] and st["tables_written"] == [],
              "tables_read %r contains app.users, nothing written" % (st["tables_read"],))
    except (ValueError, KeyError, IndexError, TypeError) as e:
        check(False, "JSON shape (%s): %s" % (e, text[:300]))

    # A syntax error is reported, thread-locally, with a message; the analysis
    # object carries the error and its offset (sql.h: it is returned even then).
    analysis = c_void_p()
    bad = b"SELECT FROM WHERE ("
    rc = lib.alchdb_sql_analyze(bad, len(bad), ctypes.byref(analysis))
    lib.alchdb_sql_analysis_error.restype = c_char_p
    lib.alchdb_sql_analysis_error.argtypes = [c_void_p, ctypes.POINTER(ctypes.c_int64)]
    off = ctypes.c_int64(-1)
    err = lib.alchdb_sql_analysis_error(analysis, ctypes.byref(off)) if analysis.value else None
    check(rc == -3 and analysis.value and err and off.value >= 0
          and lib.alchdb_last_error_code() == rc and len(lib.alchdb_last_error_message()) > 0,
          "syntax error -> %d (%s): %s" % (rc, lib.alchdb_strerror(rc).decode(),
                                           lib.alchdb_last_error_message().decode()))
    if analysis.value:
        lib.alchdb_sql_analysis_free(analysis)
    rc = lib.alchdb_sql_analyze(None, 0, ctypes.byref(analysis))
    check(rc == -1 and "sql" in lib.alchdb_last_error_message().decode(),
          "NULL sql -> ALCHDB_E_INVALID naming 'sql'")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        print("usage: ctypes_check.py LIBRARY.so", file=sys.stderr)
        sys.exit(2)
    try:
        main(sys.argv[1])
    except (OSError, AttributeError) as e:
        check(False, "loading or calling %s: %s" % (sys.argv[1], e))
    print("ctypes: %s" % ("all checks passed" if failures == 0 else "%d check(s) failed" % failures))
    sys.exit(1 if failures else 0)
