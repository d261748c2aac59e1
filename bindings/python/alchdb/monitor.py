"""The query monitor: per-pattern timings, percentiles, slow log, suggestions."""
from __future__ import annotations

import ctypes
import json
from typing import Any, Mapping, Optional

from . import errors
from ._handle import Handle
from ._lib import lib, take_string
from .options import Config, OptionValue

_SORT = {"total_time": 0, "calls": 1, "p95": 2, "mean": 3, "max": 4, "errors": 5, "slow": 6,
         "last_seen": 7}


class Monitor(Handle):
    """A monitor to attach to clients with Client.set_monitor()."""
    _free = lib.alchdb_monitor_free
    _kind = "monitor"

    def __init__(self, options: Optional[Mapping[str, OptionValue]] = None) -> None:
        super().__init__()
        p = ctypes.c_void_p()
        with Config("monitor", options) as cfg:
            errors.check(lib.alchdb_monitor_new(cfg.ptr, ctypes.byref(p)))
        self._ptr = p

    def flush(self) -> None:
        """Fold recordings still queued into the statistics."""
        errors.check(lib.alchdb_monitor_flush(self._p()))

    def reset(self) -> None:
        """Forget everything recorded."""
        errors.check(lib.alchdb_monitor_reset(self._p()))

    def patterns(self, sort: str = "total_time", limit: int = 0, windows: bool = False) -> Any:
        """The query patterns (sort: total_time, calls, p95, mean, max, errors, slow, last_seen)."""
        if sort not in _SORT:
            raise errors.invalid("sort must be one of %s, not %r" % (", ".join(_SORT), sort))
        out = ctypes.c_void_p()
        errors.check(lib.alchdb_monitor_patterns_to_json(self._p(), _SORT[sort], limit,
                                                      1 if windows else 0, ctypes.byref(out)))
        return json.loads(take_string(out))

    def analysis(self, limit: int = 0) -> Any:
        """The whole analysis: summary, trend, top patterns, suggestions."""
        out = ctypes.c_void_p()
        errors.check(lib.alchdb_monitor_analysis_to_json(self._p(), limit, ctypes.byref(out)))
        return json.loads(take_string(out))

    def slow_log(self, limit: int = 0) -> Any:
        """The slow-query log: "recent", "slowest" and "slowest_per_pattern" lists."""
        out = ctypes.c_void_p()
        errors.check(lib.alchdb_monitor_slow_log_to_json(self._p(), limit, ctypes.byref(out)))
        return json.loads(take_string(out))
