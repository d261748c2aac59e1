"""The query-result cache (in process, or in Redis)."""
from __future__ import annotations

import ctypes
import json
from typing import Any, Mapping, Optional, Sequence

from . import errors
from ._handle import Handle
from ._lib import lib, take_string
from .options import Config, OptionValue


class Cache(Handle):
    """A cache to attach to clients with Client.set_cache()."""
    _free = lib.alchdb_cache_free
    _kind = "cache"

    def __init__(self, options: Optional[Mapping[str, OptionValue]] = None) -> None:
        super().__init__()
        p = ctypes.c_void_p()
        with Config("cache", options) as cfg:
            errors.check(lib.alchdb_cache_new(cfg.ptr, ctypes.byref(p)))
        self._ptr = p

    @property
    def backend(self) -> str:
        """"memory" or "redis"."""
        return lib.alchdb_cache_backend(self._p()).decode()

    def stats(self) -> Any:
        """Hits, misses, bypasses by reason, invalidations, backend state (parsed JSON)."""
        out = ctypes.c_void_p()
        errors.check(lib.alchdb_cache_to_json(self._p(), ctypes.byref(out)))
        return json.loads(take_string(out))

    def invalidate_tables(self, tables: Sequence[str]) -> None:
        """Invalidate everything that read these tables (writes made outside the library)."""
        if isinstance(tables, str) or not all(isinstance(t, str) for t in tables):
            raise errors.invalid("tables must be a sequence of str")
        arr = (ctypes.c_char_p * max(len(tables), 1))(*[t.encode() for t in tables])
        errors.check(lib.alchdb_cache_invalidate_tables(self._p(), arr, len(tables)))

    def invalidate_tag(self, tag: str) -> None:
        """Invalidate every entry stored with this host tag."""
        if not isinstance(tag, str):
            raise errors.invalid("tag must be a str")
        errors.check(lib.alchdb_cache_invalidate_tag(self._p(), tag.encode()))

    def clear(self) -> None:
        """Drop every entry of this cache's namespace."""
        errors.check(lib.alchdb_cache_clear(self._p()))
