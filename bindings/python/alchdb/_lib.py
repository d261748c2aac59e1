"""Loading libalchdb.so.1 and declaring the C prototypes the package calls.

The library is found through ALCHDB_LIBRARY (a path) when it is set, else
through the normal loader path (ldconfig cache, LD_LIBRARY_PATH). Every
prototype is declared here once, so a wrong signature is one place to fix.
"""
from __future__ import annotations

import ctypes
import os
from typing import Any, Dict, List, Optional
from ctypes import (POINTER, c_char_p, c_double, c_int, c_int32, c_int64, c_size_t, c_uint32,
                    c_void_p)

#: The oldest library this package works with: (major, minor, patch).
MIN_VERSION = (0, 1, 0)
#: The library's ABI major (its SONAME is libalchdb.so.<ABI_MAJOR>).
ABI_MAJOR = 1
SONAME = "libalchdb.so.%d" % ABI_MAJOR


class ExecOpts(ctypes.Structure):
    """alchdb_exec_opts (include/alchdb/client.h), members in header order."""
    _fields_ = [
        ("size", c_uint32),
        ("flags", c_uint32),
        ("timeout_us", c_int64),
        ("cancel", c_void_p),
        ("token", c_char_p),
        ("param_formats", POINTER(c_int32)),
        ("param_lengths", POINTER(c_int32)),
        ("cache", c_void_p),
    ]


class CacheQuery(ctypes.Structure):
    """alchdb_cache_query (include/alchdb/cache.h)."""
    _fields_ = [
        ("version", c_uint32),
        ("flags", c_uint32),
        ("ttl_us", c_int64),
        ("tags", POINTER(c_char_p)),
        ("ntags", c_size_t),
    ]


_P = c_void_p
_PP = POINTER(c_void_p)
_OUT_STR = POINTER(c_void_p)  # char ** receiving an alchdb_free()-owned string

# name: (restype, [argtypes])
_PROTOTYPES = {
    # core
    "alchdb_version": (c_uint32, []),
    "alchdb_version_string": (c_char_p, []),
    "alchdb_strerror": (c_char_p, [c_int]),
    "alchdb_last_error_code": (c_int, []),
    "alchdb_last_error_message": (c_char_p, []),
    "alchdb_last_error_sqlstate": (c_char_p, []),
    "alchdb_clear_error": (None, []),
    "alchdb_free": (None, [c_void_p]),
    "alchdb_redact": (c_int, [c_char_p, c_char_p, _OUT_STR]),
    "alchdb_options_to_json": (c_int, [c_char_p, _OUT_STR]),
    "alchdb_options_module": (c_char_p, [c_size_t]),
    "alchdb_parse_duration": (c_int, [c_char_p, POINTER(c_int64)]),
    # pool
    "alchdb_pool_to_json": (c_int, [_P, _OUT_STR]),
    # client
    "alchdb_client_open": (c_int, [c_char_p, _P, _PP]),
    "alchdb_client_new_routed": (c_int, [_P, _PP]),
    "alchdb_client_free": (None, [_P]),
    "alchdb_client_pool": (_P, [_P]),
    "alchdb_client_exec_opts": (c_int, [_P, c_char_p, c_int, POINTER(c_char_p), POINTER(ExecOpts), _PP]),
    "alchdb_client_stream": (c_int, [_P, c_char_p, c_int, POINTER(c_char_p), POINTER(ExecOpts), _PP]),
    "alchdb_client_token": (c_int, [_P, c_char_p, c_size_t]),
    "alchdb_client_set_monitor": (c_int, [_P, _P]),
    "alchdb_client_set_cache": (c_int, [_P, _P, c_char_p]),
    "alchdb_client_begin_opts": (c_int, [_P, ctypes.c_uint, POINTER(ExecOpts), _PP]),
    "alchdb_txn_exec_opts": (c_int, [_P, c_char_p, c_int, POINTER(c_char_p), POINTER(ExecOpts), _PP]),
    "alchdb_txn_stream": (c_int, [_P, c_char_p, c_int, POINTER(c_char_p), POINTER(ExecOpts), _PP]),
    "alchdb_txn_commit_opts": (c_int, [_P, POINTER(ExecOpts)]),
    "alchdb_txn_rollback_opts": (c_int, [_P, POINTER(ExecOpts)]),
    "alchdb_txn_free": (None, [_P]),
    "alchdb_stream_next": (c_int, [_P, _PP]),
    "alchdb_stream_rows": (c_int64, [_P]),
    "alchdb_stream_command_tag": (c_char_p, [_P]),
    "alchdb_stream_free": (None, [_P]),
    "alchdb_cancel_new": (c_int, [_PP]),
    "alchdb_cancel_trigger": (c_int, [_P]),
    "alchdb_cancel_is_triggered": (c_int, [_P]),
    "alchdb_cancel_reset": (c_int, [_P]),
    "alchdb_cancel_free": (None, [_P]),
    # results
    "alchdb_result_nrows": (c_int64, [_P]),
    "alchdb_result_ncols": (c_int, [_P]),
    "alchdb_result_column_name": (c_char_p, [_P, c_int]),
    "alchdb_result_column_type": (c_uint32, [_P, c_int]),
    "alchdb_result_value": (c_void_p, [_P, c_int64, c_int]),
    "alchdb_result_length": (c_int64, [_P, c_int64, c_int]),
    "alchdb_result_is_null": (c_int, [_P, c_int64, c_int]),
    "alchdb_result_affected_rows": (c_int64, [_P]),
    "alchdb_result_command_tag": (c_char_p, [_P]),
    "alchdb_result_sqlstate": (c_char_p, [_P]),
    "alchdb_result_error_message": (c_char_p, [_P]),
    "alchdb_result_free": (None, [_P]),
    # router
    "alchdb_router_new": (c_int, [c_char_p, _P, _P, _PP]),
    "alchdb_router_add_replica": (c_int, [_P, c_char_p, c_int64]),
    "alchdb_router_start": (c_int, [_P]),
    "alchdb_router_free": (None, [_P]),
    "alchdb_router_to_json": (c_int, [_P, _OUT_STR]),
    "alchdb_router_token": (c_int, [_P, c_char_p, c_size_t]),
    # cache
    "alchdb_cache_new": (c_int, [_P, _PP]),
    "alchdb_cache_free": (None, [_P]),
    "alchdb_cache_to_json": (c_int, [_P, _OUT_STR]),
    "alchdb_cache_invalidate_tables": (c_int, [_P, POINTER(c_char_p), c_size_t]),
    "alchdb_cache_invalidate_tag": (c_int, [_P, c_char_p]),
    "alchdb_cache_clear": (c_int, [_P]),
    "alchdb_cache_backend": (c_char_p, [_P]),
    # monitor
    "alchdb_monitor_new": (c_int, [_P, _PP]),
    "alchdb_monitor_free": (None, [_P]),
    "alchdb_monitor_flush": (c_int, [_P]),
    "alchdb_monitor_reset": (c_int, [_P]),
    "alchdb_monitor_patterns_to_json": (c_int, [_P, c_int, c_int64, c_uint32, _OUT_STR]),
    "alchdb_monitor_analysis_to_json": (c_int, [_P, c_int64, _OUT_STR]),
    "alchdb_monitor_slow_log_to_json": (c_int, [_P, c_int64, _OUT_STR]),
    # dashboard
    "alchdb_dashboard_new": (c_int, [_P, _PP]),
    "alchdb_dashboard_free": (None, [_P]),
    "alchdb_dashboard_attach_pool": (c_int, [_P, _P]),
    "alchdb_dashboard_attach_router": (c_int, [_P, _P]),
    "alchdb_dashboard_attach_cache": (c_int, [_P, _P]),
    "alchdb_dashboard_attach_monitor": (c_int, [_P, _P]),
    "alchdb_dashboard_health": (c_int, [_P, POINTER(c_double), POINTER(c_int)]),
    "alchdb_dashboard_health_to_json": (c_int, [_P, _OUT_STR]),
    "alchdb_dashboard_to_json": (c_int, [_P, _OUT_STR]),
    "alchdb_dashboard_metrics": (c_int, [_P, _OUT_STR]),
    "alchdb_dashboard_handle": (c_int, [_P, c_char_p, c_char_p, c_char_p, c_size_t, POINTER(c_int),
                                        POINTER(c_char_p), _OUT_STR, POINTER(c_size_t)]),
    # migration
    "alchdb_migration_new": (c_int, [_P, _PP]),
    "alchdb_migration_add_file": (c_int, [_P, c_char_p, c_char_p, c_size_t]),
    "alchdb_migration_free": (None, [_P]),
    "alchdb_migration_max_risk": (c_int, [_P]),
    "alchdb_migration_risk_name": (c_char_p, [c_int]),
    "alchdb_migration_to_json": (c_int, [_P, _OUT_STR]),
    "alchdb_migration_to_text": (c_int, [_P, _OUT_STR]),
    # advisor
    "alchdb_advisor_config_add_query": (c_int, [_P, c_char_p, c_int64, c_double]),
    "alchdb_advisor_analyze": (c_int, [_P, _PP]),
    "alchdb_advisor_report_free": (None, [_P]),
    "alchdb_advisor_report_to_json": (c_int, [_P, _OUT_STR]),
    "alchdb_advisor_report_to_text": (c_int, [_P, _OUT_STR]),
    "alchdb_advisor_report_script": (c_char_p, [_P]),
}


def _load() -> ctypes.CDLL:
    path = os.environ.get("ALCHDB_LIBRARY") or SONAME
    try:
        lib = ctypes.CDLL(path)
    except OSError as e:
        raise ImportError("alchdb: cannot load %s (%s); install libalchdb or set ALCHDB_LIBRARY "
                          "to the library's path" % (path, e)) from e
    for name, (restype, argtypes) in _PROTOTYPES.items():
        try:
            fn = getattr(lib, name)
        except AttributeError as e:
            raise ImportError("alchdb: %s has no %s: the library is older than this package "
                              "needs (%d.%d.%d)" % (path, name, *MIN_VERSION)) from e
        fn.restype = restype
        fn.argtypes = argtypes
    return lib


lib = _load()
_number = lib.alchdb_version()
#: The loaded library's version as (major, minor, patch).
VERSION = ((_number >> 16) & 0xFF, (_number >> 8) & 0xFF, _number & 0xFF)
if VERSION < MIN_VERSION:
    raise ImportError("alchdb: the loaded library is %d.%d.%d, this package needs >= %d.%d.%d"
                      % (*VERSION, *MIN_VERSION))


#: The configuration functions every module with options has, by suffix
#: (alchdb_<module>_config_<suffix>); the modules come from the library's
#: listing (alchdb_options_module), not from a list kept here.
_CONFIG_PROTOTYPES = {
    "new": (c_int, [_PP]),
    "free": (None, [_P]),
    "set_from_string": (c_int, [_P, c_char_p, c_char_p]),
}


def config_modules() -> List[str]:
    """The modules that have options, in the library's order."""
    names = []
    while True:
        name = lib.alchdb_options_module(len(names))
        if name is None:
            return names
        names.append(name.decode())


def config_functions(module: str) -> Optional[Dict[str, Any]]:
    """The alchdb_<module>_config_{new,free,set_from_string} functions of a
    module of the listing, declared with their prototypes; None for a module
    the library does not list."""
    if module not in config_modules():
        return None
    fns = {}
    for suffix, (restype, argtypes) in _CONFIG_PROTOTYPES.items():
        fn = getattr(lib, "alchdb_%s_config_%s" % (module, suffix))
        fn.restype = restype
        fn.argtypes = argtypes
        fns[suffix] = fn
    return fns


def take_string(ptr: c_void_p) -> str:
    """Copy a library-owned char * into a str and free it with alchdb_free()."""
    if not ptr.value:
        return ""
    try:
        return ctypes.string_at(ptr.value).decode("utf-8", "replace")
    finally:
        lib.alchdb_free(ptr)
