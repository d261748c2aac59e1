"""Option listings and configuration objects.

What options exist, with their types, units, bounds, defaults and docs, comes
from the library itself (alchdb_options_to_json); configurations are applied
by name through each module's set_from_string, so the library is the one
judge of names and values.
"""
from __future__ import annotations

import ctypes
import datetime
import json
from typing import Any, Dict, List, Mapping, Optional

from . import errors
from ._lib import config_functions, config_modules, lib, take_string

OptionValue = Any  # str, int, bool, float or datetime.timedelta


def listing(module: Optional[str] = None) -> List[Dict[str, Any]]:
    """The library's option listing: one dict per module
    ({"module": name, "options": [{"name", "type", "unit", "default", "doc", ...}]}).

    Raises NotFound for a module the library does not know.
    """
    out = ctypes.c_void_p()
    errors.check(lib.alchdb_options_to_json(module.encode() if module else None, ctypes.byref(out)))
    return json.loads(take_string(out))["modules"]


def parse_duration(text: str) -> datetime.timedelta:
    """Parse a duration as the library does ("250ms", "1h30m", "0")."""
    us = ctypes.c_int64()
    errors.check(lib.alchdb_parse_duration(text.encode(), ctypes.byref(us)))
    return datetime.timedelta(microseconds=us.value)


def to_text(value: OptionValue) -> str:
    """The text form set_from_string accepts for a Python value."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime.timedelta):
        return "%dus" % (value // datetime.timedelta(microseconds=1))
    if isinstance(value, (int, str)):
        return str(value)
    raise errors.invalid("option value %r: expected str, int, bool or datetime.timedelta" % (value,))


class Config:
    """A module's configuration object built from a mapping of option names to
    values: alchdb_<module>_config_new, then set_from_string per option. Any
    module of the library's listing works; a module it does not list raises
    NotFound."""

    def __init__(self, module: str, values: Optional[Mapping[str, OptionValue]] = None) -> None:
        self.ptr = ctypes.c_void_p()
        fns = config_functions(module) if isinstance(module, str) else None
        if fns is None:
            raise errors.NotFound(errors.E_NOTFOUND, "no module %r in the option listing (%s)"
                                  % (module, ", ".join(config_modules())), "")
        self._free = fns["free"]
        errors.check(fns["new"](ctypes.byref(self.ptr)))
        try:
            for name, value in (values or {}).items():
                if not isinstance(name, str):
                    raise errors.invalid("%s option name %r is not a str" % (module, name))
                rc = fns["set_from_string"](self.ptr, name.encode(), to_text(value).encode())
                if rc < 0:
                    raise errors.make(rc)
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        if self.ptr:
            self._free(self.ptr)
            self.ptr = ctypes.c_void_p()

    def __enter__(self) -> "Config":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
