"""The dashboard: health score and grade, alerts, the JSON snapshot, Prometheus
text and the HTTP routes, over the modules attached to it."""
from __future__ import annotations

import ctypes
import json
from typing import Any, Mapping, Optional, Tuple

from . import errors
from ._handle import Handle
from ._lib import lib, take_string
from .options import Config, OptionValue

#: alchdb_dashboard_status values (include/alchdb/dashboard.h).
STATUS = {0: "healthy", 1: "warning", 2: "critical"}


class Dashboard(Handle):
    """A dashboard over a client's pool, a router, a cache and a monitor (each optional).

    What is attached is borrowed: while the dashboard is open, an attached
    router, cache or monitor refuses to close (StateError); closing the client
    whose pool is attached closes the dashboard first, as it does its
    transactions and streams. Thread-safe: every read evaluates the attached
    modules at that moment.
    """
    _free = lib.alchdb_dashboard_free
    _kind = "dashboard"

    def __init__(self, options: Optional[Mapping[str, OptionValue]] = None, *, client: Optional[Handle] = None,
                 router: Optional[Handle] = None, cache: Optional[Handle] = None,
                 monitor: Optional[Handle] = None) -> None:
        super().__init__()
        p = ctypes.c_void_p()
        with Config("dashboard", options) as cfg:
            errors.check(lib.alchdb_dashboard_new(cfg.ptr, ctypes.byref(p)))
        self._ptr = p
        try:
            if client is not None:
                self.attach_pool(client)
            if router is not None:
                self.attach_router(router)
            if cache is not None:
                self.attach_cache(cache)
            if monitor is not None:
                self.attach_monitor(monitor)
        except BaseException:
            self.close()
            raise

    def _attach(self, kind: str, cls: type, obj: Optional[Handle], fn: Any, ptr: Any) -> None:
        if obj is not None and not isinstance(obj, cls):
            raise errors.invalid("%s must be an alchdb.%s or None" % (kind, cls.__name__))
        errors.check(fn(self._p(), ptr() if obj is not None else None))
        self._hold(kind, obj)

    def attach_pool(self, client: Optional[Handle]) -> None:
        """Attach the pool of a Client (connection rules); None detaches."""
        from .client import Client
        self._attach("pool", Client, client, lib.alchdb_dashboard_attach_pool,
                     lambda: lib.alchdb_client_pool(client._p()))

    def attach_router(self, router: Optional[Handle]) -> None:
        """Attach a Router (replica health and lag rules, per-host pools); None detaches."""
        from .router import Router
        self._attach("router", Router, router, lib.alchdb_dashboard_attach_router, lambda: router._p())

    def attach_cache(self, cache: Optional[Handle]) -> None:
        """Attach a Cache (hit-ratio rules, cache routes); None detaches."""
        from .cache import Cache
        self._attach("cache", Cache, cache, lib.alchdb_dashboard_attach_cache, lambda: cache._p())

    def attach_monitor(self, monitor: Optional[Handle]) -> None:
        """Attach a Monitor (query rules, QPS, trends, query routes); None detaches."""
        from .monitor import Monitor
        self._attach("monitor", Monitor, monitor, lib.alchdb_dashboard_attach_monitor, lambda: monitor._p())

    def health(self) -> Tuple[float, str]:
        """Evaluate now: the score (0..100) and the status ("healthy", "warning", "critical")."""
        score, status = ctypes.c_double(), ctypes.c_int()
        errors.check(lib.alchdb_dashboard_health(self._p(), ctypes.byref(score), ctypes.byref(status)))
        return score.value, STATUS[status.value]

    def health_report(self) -> Any:
        """Evaluate now: score, status, grade, penalties, alerts, recommendations (parsed JSON)."""
        out = ctypes.c_void_p()
        errors.check(lib.alchdb_dashboard_health_to_json(self._p(), ctypes.byref(out)))
        return json.loads(take_string(out))

    def snapshot(self) -> Any:
        """Evaluate now: the whole snapshot (health, QPS, connections, hosts, cache, queries,
        indexes, alerts, recommendations) as parsed JSON."""
        out = ctypes.c_void_p()
        errors.check(lib.alchdb_dashboard_to_json(self._p(), ctypes.byref(out)))
        return json.loads(take_string(out))

    def metrics(self) -> str:
        """Evaluate now: every metric in the Prometheus text exposition format."""
        out = ctypes.c_void_p()
        errors.check(lib.alchdb_dashboard_metrics(self._p(), ctypes.byref(out)))
        return take_string(out)

    def handle(self, method: str, path: str, body: bytes = b"") -> Tuple[int, str, bytes]:
        """Serve one HTTP request as the C handler does: (status, content type, body).

        No authentication: a host serving POST routes checks credentials first.
        """
        if not isinstance(method, str) or not isinstance(path, str) or not isinstance(body, bytes):
            raise errors.invalid("method and path must be str, body bytes")
        status, ctype = ctypes.c_int(), ctypes.c_char_p()
        out, out_len = ctypes.c_void_p(), ctypes.c_size_t()
        errors.check(lib.alchdb_dashboard_handle(self._p(), method.encode(), path.encode(), body, len(body),
                                                 ctypes.byref(status), ctypes.byref(ctype), ctypes.byref(out),
                                                 ctypes.byref(out_len)))
        try:
            data = ctypes.string_at(out.value, out_len.value) if out.value else b""
        finally:
            lib.alchdb_free(out)
        return status.value, (ctype.value or b"").decode(), data
