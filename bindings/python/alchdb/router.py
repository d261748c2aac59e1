"""The read/write router over a primary and its streaming replicas."""
from __future__ import annotations

import ctypes
import json
from typing import Any, Mapping, Optional, Sequence, Tuple, Union

from . import errors
from ._handle import Handle
from ._lib import lib, take_string
from .options import Config, OptionValue

Replica = Union[str, Tuple[str, int]]


class Router(Handle):
    """A started router: health prober, lag-aware replica choice, tokens.

    replicas: conninfo strings, or (conninfo, weight) pairs.
    """
    _free = lib.alchdb_router_free
    _kind = "router"

    def __init__(self, primary: str, replicas: Sequence[Replica] = (),
                 options: Optional[Mapping[str, OptionValue]] = None,
                 pool_options: Optional[Mapping[str, OptionValue]] = None) -> None:
        super().__init__()
        if not isinstance(primary, str):
            raise errors.invalid("primary must be a conninfo str")
        p = ctypes.c_void_p()
        with Config("pool", pool_options) as pcfg, Config("router", options) as rcfg:
            errors.check(lib.alchdb_router_new(primary.encode(), pcfg.ptr, rcfg.ptr, ctypes.byref(p)))
        self._ptr = p
        try:
            for r in replicas:
                conninfo, weight = (r, 1) if isinstance(r, str) else r
                errors.check(lib.alchdb_router_add_replica(p, conninfo.encode(), weight))
            errors.check(lib.alchdb_router_start(p))
        except BaseException:
            self.close()
            raise

    def metrics(self) -> Any:
        """Hosts, health, lag, routing counters (the router's JSON, parsed)."""
        out = ctypes.c_void_p()
        errors.check(lib.alchdb_router_to_json(self._p(), ctypes.byref(out)))
        return json.loads(take_string(out))

    def token(self) -> str:
        """A read-your-writes token for everything committed so far."""
        buf = ctypes.create_string_buffer(128)
        errors.check(lib.alchdb_router_token(self._p(), buf, len(buf)))
        return buf.value.decode()
