"""alchdb: Python bindings for libalchdb (ctypes; no compiler needed).

    import alchdb
    with alchdb.Client("host=127.0.0.1 dbname=app") as db:
        r = db.exec("SELECT id, name FROM users WHERE id = $1", [42], timeout=2.0)
        for row in r.dicts():
            print(row["name"])

The library is loaded from ALCHDB_LIBRARY when set, else as libalchdb.so.1
through the normal loader path; importing fails (ImportError) when it is
missing or older than this package needs.
"""
from __future__ import annotations

import ctypes

from ._lib import VERSION, lib, take_string
from .cache import Cache
from .client import Cancel, Client, Stream, Transaction
from .dashboard import Dashboard
from .errors import (BackendError, Busy, Canceled, Closed, ConnectError, Error, InternalError,
                     InvalidArgument, IOFailure, NotFound, OutOfMemory, ParseError, QueryError,
                     RangeError, StateError, Timeout, Unsupported)
from .monitor import Monitor
from .options import listing as options
from .options import parse_duration
from .reports import AdvisorReport, MigrationReport, advise, check_migration
from .result import Result
from .router import Router

__version__ = "0.1.0"
#: The loaded library's version string, e.g. "0.1.0".
library_version: str = lib.alchdb_version_string().decode()


def redact(text: str, conninfo: str = "") -> str:
    """The text with every password replaced by "***", as the library redacts its own output."""
    from . import errors
    out = ctypes.c_void_p()
    errors.check(lib.alchdb_redact(text.encode(), conninfo.encode() if conninfo else None,
                                   ctypes.byref(out)))
    return take_string(out)


__all__ = [
    "VERSION", "library_version", "Client", "Transaction", "Stream", "Cancel", "Result", "Router",
    "Cache", "Monitor", "Dashboard", "MigrationReport", "AdvisorReport", "check_migration", "advise", "options",
    "parse_duration", "redact", "Error", "InvalidArgument", "OutOfMemory", "ParseError", "IOFailure",
    "Timeout", "ConnectError", "QueryError", "StateError", "NotFound", "Unsupported", "Closed",
    "Busy", "BackendError", "RangeError", "InternalError", "Canceled",
]
