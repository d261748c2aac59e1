"""Exceptions carrying the library's error code, message and SQLSTATE.

The library keeps the detail of a failure in thread-local storage; the
package reads it on the calling thread right after the failing call, before
anything else can overwrite it.
"""
from __future__ import annotations

from typing import Dict, Optional, Type

from ._lib import lib

OK = 0
E_INVALID = -1
E_NOMEM = -2
E_PARSE = -3
E_IO = -4
E_TIMEOUT = -5
E_CONNECT = -6
E_QUERY = -7
E_STATE = -8
E_NOTFOUND = -9
E_UNSUPPORTED = -10
E_CLOSED = -11
E_BUSY = -12
E_BACKEND = -13
E_RANGE = -14
E_INTERNAL = -15
E_CANCELED = -16


class Error(Exception):
    """A failed library call.

    Attributes:
        code: the negative ALCHDB_E_* value.
        message: the library's detail (never holds a password).
        sqlstate: the server's SQLSTATE when the failure came from PostgreSQL, else "".
    """

    def __init__(self, code: int, message: str, sqlstate: str = "") -> None:
        self.code = code
        self.message = message
        self.sqlstate = sqlstate
        text = message or strerror(code)
        if sqlstate:
            text = "%s [SQLSTATE %s]" % (text, sqlstate)
        super().__init__(text)


class InvalidArgument(Error, ValueError):
    """ALCHDB_E_INVALID: an argument is invalid (the message names it)."""


class OutOfMemory(Error, MemoryError):
    """ALCHDB_E_NOMEM."""


class ParseError(Error):
    """ALCHDB_E_PARSE."""


class IOFailure(Error, OSError):
    """ALCHDB_E_IO."""


class Timeout(Error, TimeoutError):
    """ALCHDB_E_TIMEOUT: a deadline passed."""


class ConnectError(Error, ConnectionError):
    """ALCHDB_E_CONNECT: a server connection could not be made."""


class QueryError(Error):
    """ALCHDB_E_QUERY: the server answered with an error (see sqlstate)."""


class StateError(Error):
    """ALCHDB_E_STATE: not allowed in the object's current state."""


class NotFound(Error, LookupError):
    """ALCHDB_E_NOTFOUND."""


class Unsupported(Error):
    """ALCHDB_E_UNSUPPORTED."""


class Closed(Error):
    """ALCHDB_E_CLOSED."""


class Busy(Error):
    """ALCHDB_E_BUSY: a limit was reached."""


class BackendError(Error):
    """ALCHDB_E_BACKEND: a backend (e.g. Redis) failed."""


class RangeError(Error, OverflowError):
    """ALCHDB_E_RANGE."""


class InternalError(Error):
    """ALCHDB_E_INTERNAL: a bug in the library."""


class Canceled(Error):
    """ALCHDB_E_CANCELED: the call's cancel handle fired."""


_BY_CODE: Dict[int, Type[Error]] = {
    E_INVALID: InvalidArgument, E_NOMEM: OutOfMemory, E_PARSE: ParseError, E_IO: IOFailure,
    E_TIMEOUT: Timeout, E_CONNECT: ConnectError, E_QUERY: QueryError, E_STATE: StateError,
    E_NOTFOUND: NotFound, E_UNSUPPORTED: Unsupported, E_CLOSED: Closed, E_BUSY: Busy,
    E_BACKEND: BackendError, E_RANGE: RangeError, E_INTERNAL: InternalError,
    E_CANCELED: Canceled,
}


def strerror(code: int) -> str:
    """The library's static text for an error code."""
    return lib.alchdb_strerror(code).decode()


def make(code: int, message: Optional[str] = None, sqlstate: Optional[str] = None) -> Error:
    """An exception for @code, with the calling thread's last-error detail unless given."""
    if message is None:
        message = lib.alchdb_last_error_message().decode("utf-8", "replace")
    if sqlstate is None:
        sqlstate = lib.alchdb_last_error_sqlstate().decode("ascii", "replace")
    return _BY_CODE.get(code, Error)(code, message, sqlstate)


def check(rc: int) -> int:
    """Raise for a negative return code (reading the detail now, on this thread)."""
    if rc < 0:
        raise make(rc)
    return rc


def invalid(what: str) -> InvalidArgument:
    """An InvalidArgument raised by the package itself (before calling the library)."""
    return InvalidArgument(E_INVALID, what, "")
