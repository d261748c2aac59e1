"""The client: statements with parameters, per-call options, transactions,
streams, cancel handles and read-your-writes tokens."""
from __future__ import annotations

import ctypes
import datetime
import decimal
import json
import uuid
from typing import Any, Iterator, List, Mapping, Optional, Sequence, Tuple

from . import errors
from ._handle import Handle
from ._lib import ExecOpts, lib, take_string
from .options import Config, OptionValue
from .result import Result, Row, _columns, _row

# alchdb_exec_flag
EXEC_UNPREPARED = 1
EXEC_SIMPLE = 2
EXEC_READ = 8
EXEC_PRIMARY = 16
# alchdb_txn_flag
TXN_READ_ONLY = 1
TXN_REPEATABLE_READ = 2
TXN_SERIALIZABLE = 4
_ISOLATION = {None: 0, "read committed": 0, "repeatable read": TXN_REPEATABLE_READ,
              "serializable": TXN_SERIALIZABLE}

Params = Sequence[Any]


class Cancel(Handle):
    """A cancel handle: pass it as ``cancel=`` to calls, trigger it from any
    thread to stop them (they raise Canceled)."""
    _free = lib.alchdb_cancel_free
    _kind = "cancel handle"

    def __init__(self) -> None:
        super().__init__()
        p = ctypes.c_void_p()
        errors.check(lib.alchdb_cancel_new(ctypes.byref(p)))
        self._ptr = p

    def trigger(self) -> None:
        """Stop every call using the handle, now and until reset()."""
        errors.check(lib.alchdb_cancel_trigger(self._p()))

    @property
    def triggered(self) -> bool:
        return errors.check(lib.alchdb_cancel_is_triggered(self._p())) == 1

    def reset(self) -> None:
        """Re-arm a triggered handle (StateError while a call still waits on it)."""
        errors.check(lib.alchdb_cancel_reset(self._p()))


class _Call:
    """The C arguments of one statement, kept alive for the duration of the call."""

    def __init__(self, sql: str, params: Optional[Params], *, flags: int = 0,
                 timeout: Optional[float] = None, cancel: Optional[Cancel] = None,
                 token: Optional[str] = None) -> None:
        if not isinstance(sql, str):
            raise errors.invalid("sql must be a str, not %s" % type(sql).__name__)
        if "\0" in sql:
            raise errors.invalid("sql contains a NUL character")
        self.sql = sql.encode()
        params = () if params is None else params
        if isinstance(params, (str, bytes, Mapping)):
            raise errors.invalid("params must be a sequence of values, not %s" % type(params).__name__)
        n = len(params)
        self.n = n
        self.values = (ctypes.c_char_p * max(n, 1))()
        formats = (ctypes.c_int32 * max(n, 1))()
        lengths = (ctypes.c_int32 * max(n, 1))()
        binary = False
        for i, v in enumerate(params):
            b, fmt = _param(i, v)
            self.values[i] = b
            formats[i] = fmt
            lengths[i] = len(b) if b is not None else 0
            binary = binary or fmt == 1
        self.opts = ExecOpts(size=ctypes.sizeof(ExecOpts), flags=flags)
        if binary:
            self.opts.param_formats = formats
            self.opts.param_lengths = lengths
        self._keep = (formats, lengths)
        if timeout is not None:
            if not isinstance(timeout, (int, float)) or timeout <= 0:
                raise errors.invalid("timeout must be a positive number of seconds, not %r" % (timeout,))
            self.opts.timeout_us = max(1, int(timeout * 1e6))
        if cancel is not None:
            if not isinstance(cancel, Cancel):
                raise errors.invalid("cancel must be an alchdb.Cancel")
            self.opts.cancel = cancel._p()
        if token is not None:
            if not isinstance(token, str):
                raise errors.invalid("token must be a str")
            self.opts.token = token.encode()
        self.params_ptr = self.values if n else None


def _param(i: int, v: Any) -> Tuple[Optional[bytes], int]:
    if v is None:
        return None, 0
    if isinstance(v, (bytes, bytearray, memoryview)):
        return bytes(v), 1
    if isinstance(v, bool):
        return (b"t" if v else b"f"), 0
    if isinstance(v, (int, float, decimal.Decimal, uuid.UUID)):
        return str(v).encode(), 0
    if isinstance(v, (datetime.datetime, datetime.date, datetime.time)):
        return v.isoformat().encode(), 0
    if isinstance(v, str):
        if "\0" in v:
            raise errors.invalid("params[%d] contains a NUL character" % i)
        return v.encode(), 0
    if isinstance(v, (dict, list)):
        return json.dumps(v).encode(), 0
    raise errors.invalid("params[%d]: cannot send a %s" % (i, type(v).__name__))


def _finish(rc: int, out: ctypes.c_void_p) -> Result:
    """The Result of a statement call, or the exception it stands for."""
    if rc == errors.E_QUERY and out.value:
        msg = lib.alchdb_result_error_message(out).decode("utf-8", "replace")
        state = lib.alchdb_result_sqlstate(out).decode("ascii", "replace")
        lib.alchdb_result_free(out)
        raise errors.QueryError(rc, msg, state)
    if rc < 0:
        if out.value:
            lib.alchdb_result_free(out)
        raise errors.make(rc)
    return Result.take(out)


class Stream(Handle):
    """Rows read one at a time (the result is never held whole). Iterate it;
    close it (or leave the ``with`` block) to stop early: the statement is
    canceled on the server."""
    _free = lib.alchdb_stream_free
    _kind = "stream"

    def __init__(self, ptr: ctypes.c_void_p, owner: Handle) -> None:
        super().__init__()
        self._ptr = ptr
        self._owner = owner
        owner._users.add(self)
        self.columns: Optional[List[str]] = None
        self._conv: Optional[list] = None
        self._done = False

    def __iter__(self) -> Iterator[Row]:
        return self

    def __next__(self) -> Row:
        if self._done:
            raise StopIteration
        row = ctypes.c_void_p()
        rc = lib.alchdb_stream_next(self._p(), ctypes.byref(row))
        if rc < 0:
            self._done = True
            raise errors.make(rc)
        if rc == 0:
            self._done = True
            raise StopIteration
        if self._conv is None:
            self.columns, self._conv, _ = _columns(row)
        return _row(row, 0, self._conv)

    @property
    def rows_read(self) -> int:
        """Rows handed out so far."""
        return errors.check(lib.alchdb_stream_rows(self._p()))

    @property
    def command_tag(self) -> str:
        """The command tag once the stream has ended ("" before)."""
        return lib.alchdb_stream_command_tag(self._p()).decode()


class Transaction(Handle):
    """A transaction on one connection. As a context manager it commits when
    the block ends normally and rolls back when it raises."""
    _free = lib.alchdb_txn_free
    _kind = "transaction"

    def __init__(self, ptr: ctypes.c_void_p, client: "Client") -> None:
        super().__init__()
        self._ptr = ptr
        self._client = client
        self._ended = False
        client._users.add(self)

    def exec(self, sql: str, params: Optional[Params] = None, *, timeout: Optional[float] = None,
             cancel: Optional[Cancel] = None, unprepared: bool = False) -> Result:
        """Run one statement in the transaction; see Client.exec()."""
        call = _Call(sql, params, flags=EXEC_UNPREPARED if unprepared else 0, timeout=timeout,
                     cancel=cancel)
        out = ctypes.c_void_p()
        rc = lib.alchdb_txn_exec_opts(self._p(), call.sql, call.n, call.params_ptr,
                                      ctypes.byref(call.opts), ctypes.byref(out))
        return _finish(rc, out)

    def stream(self, sql: str, params: Optional[Params] = None, *, timeout: Optional[float] = None,
               cancel: Optional[Cancel] = None) -> Stream:
        """Stream one statement's rows inside the transaction."""
        call = _Call(sql, params, timeout=timeout, cancel=cancel)
        out = ctypes.c_void_p()
        errors.check(lib.alchdb_txn_stream(self._p(), call.sql, call.n, call.params_ptr,
                                           ctypes.byref(call.opts), ctypes.byref(out)))
        return Stream(out, self)

    def _end(self, fn, timeout: Optional[float], cancel: Optional[Cancel]) -> None:
        for s in list(self._users):
            s.close()
        call = _Call("", None, timeout=timeout, cancel=cancel)
        ptr = self._p()
        self._ended = True  # whatever the outcome, the library has ended the transaction
        errors.check(fn(ptr, ctypes.byref(call.opts)))

    def commit(self, *, timeout: Optional[float] = None, cancel: Optional[Cancel] = None) -> None:
        """Commit (QueryError with the SQLSTATE when the server refuses, e.g. 40001)."""
        self._end(lib.alchdb_txn_commit_opts, timeout, cancel)

    def rollback(self, *, timeout: Optional[float] = None, cancel: Optional[Cancel] = None) -> None:
        """Roll back."""
        self._end(lib.alchdb_txn_rollback_opts, timeout, cancel)

    def _before_close(self) -> None:
        for s in list(self._users):
            s.close()

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        try:
            if self._ptr is not None and not self._ended:
                if exc_type is None:
                    self.commit()
                else:
                    try:
                        self.rollback()
                    except errors.Error:
                        pass  # the original exception matters; free() below rolls back anyway
        finally:
            self.close()


class Client(Handle):
    """A thread-safe client: a pool of its own (``Client(conninfo)``) or routed
    over a primary and replicas (``Client.routed(router)``)."""
    _free = lib.alchdb_client_free
    _kind = "client"

    def __init__(self, conninfo: str, pool_options: Optional[Mapping[str, OptionValue]] = None) -> None:
        super().__init__()
        if not isinstance(conninfo, str):
            raise errors.invalid("conninfo must be a str")
        with Config("pool", pool_options) as cfg:
            p = ctypes.c_void_p()
            errors.check(lib.alchdb_client_open(conninfo.encode(), cfg.ptr, ctypes.byref(p)))
        self._ptr = p

    @classmethod
    def routed(cls, router: Handle) -> "Client":
        """A client that sends reads to healthy replicas and the rest to the primary."""
        from .router import Router
        if not isinstance(router, Router):
            raise errors.invalid("router must be an alchdb.Router")
        self = cls.__new__(cls)
        Handle.__init__(self)
        p = ctypes.c_void_p()
        errors.check(lib.alchdb_client_new_routed(router._p(), ctypes.byref(p)))
        self._ptr = p
        self._hold("router", router)
        return self

    def exec(self, sql: str, params: Optional[Params] = None, *, timeout: Optional[float] = None,
             cancel: Optional[Cancel] = None, token: Optional[str] = None, read: bool = False,
             primary: bool = False, unprepared: bool = False, simple: bool = False) -> Result:
        """Run one statement; parameters are sent apart from the SQL ($1, $2, ...).

        timeout: seconds for the whole call (connection wait included); Timeout when it passes.
        cancel: a Cancel another thread may trigger (Canceled).
        token: a read-your-writes token from token() (routed clients).
        read / primary: routed clients: the statement only reads / must run on the primary.
        unprepared: do not prepare; simple: simple protocol (several statements, no params).
        Raises QueryError (with .sqlstate) when the server refuses the statement.
        """
        flags = ((EXEC_READ if read else 0) | (EXEC_PRIMARY if primary else 0) |
                 (EXEC_UNPREPARED if unprepared else 0) | (EXEC_SIMPLE if simple else 0))
        call = _Call(sql, params, flags=flags, timeout=timeout, cancel=cancel, token=token)
        out = ctypes.c_void_p()
        rc = lib.alchdb_client_exec_opts(self._p(), call.sql, call.n, call.params_ptr,
                                         ctypes.byref(call.opts), ctypes.byref(out))
        return _finish(rc, out)

    def stream(self, sql: str, params: Optional[Params] = None, *, timeout: Optional[float] = None,
               cancel: Optional[Cancel] = None, token: Optional[str] = None) -> Stream:
        """Start a statement whose rows are read one at a time (iterate the Stream).
        timeout covers the whole stream, to the last row."""
        call = _Call(sql, params, timeout=timeout, cancel=cancel, token=token)
        out = ctypes.c_void_p()
        errors.check(lib.alchdb_client_stream(self._p(), call.sql, call.n, call.params_ptr,
                                              ctypes.byref(call.opts), ctypes.byref(out)))
        return Stream(out, self)

    def transaction(self, *, read_only: bool = False, isolation: Optional[str] = None,
                    timeout: Optional[float] = None, cancel: Optional[Cancel] = None) -> Transaction:
        """Begin a transaction (isolation: None, "read committed", "repeatable read",
        "serializable"). Use it as a context manager."""
        if isolation not in _ISOLATION:
            raise errors.invalid("isolation must be one of %s, not %r"
                                 % (", ".join(repr(k) for k in _ISOLATION if k), isolation))
        flags = (TXN_READ_ONLY if read_only else 0) | _ISOLATION[isolation]
        call = _Call("", None, timeout=timeout, cancel=cancel)
        out = ctypes.c_void_p()
        errors.check(lib.alchdb_client_begin_opts(self._p(), flags, ctypes.byref(call.opts),
                                                  ctypes.byref(out)))
        return Transaction(out, self)

    def token(self) -> str:
        """A read-your-writes token for everything committed so far (routed clients)."""
        buf = ctypes.create_string_buffer(128)
        errors.check(lib.alchdb_client_token(self._p(), buf, len(buf)))
        return buf.value.decode()

    def set_cache(self, cache: Optional[Handle], scope: Optional[str] = None) -> None:
        """Attach a Cache (before sharing the client between threads); None detaches."""
        from .cache import Cache
        if cache is not None and not isinstance(cache, Cache):
            raise errors.invalid("cache must be an alchdb.Cache or None")
        errors.check(lib.alchdb_client_set_cache(self._p(), cache._p() if cache else None,
                                                 scope.encode() if scope is not None else None))
        self._hold("cache", cache)

    def set_monitor(self, monitor: Optional[Handle]) -> None:
        """Report every statement to a Monitor; None stops."""
        from .monitor import Monitor
        if monitor is not None and not isinstance(monitor, Monitor):
            raise errors.invalid("monitor must be an alchdb.Monitor or None")
        errors.check(lib.alchdb_client_set_monitor(self._p(), monitor._p() if monitor else None))
        self._hold("monitor", monitor)

    def pool_metrics(self) -> Any:
        """The metrics of the client's pool (the primary's pool for a routed client)."""
        out = ctypes.c_void_p()
        errors.check(lib.alchdb_pool_to_json(lib.alchdb_client_pool(self._p()), ctypes.byref(out)))
        return json.loads(take_string(out))

    def close(self) -> None:
        """Close open transactions and streams, then free the client."""
        if self._ptr is not None:
            for h in list(self._users):
                if not h.closed:
                    for s in list(h._users):
                        s.close()
                    h.close()
        super().close()
        self._release_all()
