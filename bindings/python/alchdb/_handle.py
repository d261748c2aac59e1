"""The shared shape of every wrapped handle: a pointer freed once, context
manager support, and the rule that an object another one borrows cannot be
closed while the borrower is open (the C API requires the borrowed object to
outlive its users)."""
from __future__ import annotations

import ctypes
import threading
import weakref
from typing import Any, Callable, Dict, Optional

from . import errors


class Handle:
    _free: Callable[[Any], None]
    _kind = "handle"

    def __init__(self) -> None:
        self._ptr: Optional[ctypes.c_void_p] = None
        self._users: "weakref.WeakSet[Handle]" = weakref.WeakSet()
        self._held: Dict[str, Handle] = {}
        self._close_lock = threading.Lock()

    @property
    def closed(self) -> bool:
        """Whether close() has run."""
        return self._ptr is None

    def _p(self) -> ctypes.c_void_p:
        ptr = self._ptr
        if ptr is None:
            raise errors.Closed(errors.E_CLOSED, "this %s is closed" % self._kind, "")
        return ptr

    def _hold(self, role: str, obj: Optional["Handle"]) -> None:
        """Record that this handle now borrows obj in role (None: nothing), after the C
        call that attached or detached it succeeded. What it borrowed in that role
        before is released, unless it is still borrowed in another role."""
        old = self._held.pop(role, None)
        if old is not None and old is not obj and all(h is not old for h in self._held.values()):
            old._users.discard(self)
        if obj is not None:
            self._held[role] = obj
            obj._users.add(self)

    def _release_all(self) -> None:
        """Release everything held (after this handle is freed)."""
        for h in self._held.values():
            h._users.discard(self)
        self._held = {}

    def _before_close(self) -> None:
        """Subclasses close what depends on them here."""

    def close(self) -> None:
        """Free the handle (idempotent). Raises StateError while an open object borrows it."""
        with self._close_lock:
            if self._ptr is None:
                return
            users = [u for u in self._users if not u.closed]
            if users:
                raise errors.StateError(errors.E_STATE, "this %s is still used by %d open %s; close "
                                        "them first" % (self._kind, len(users), users[0]._kind), "")
            self._before_close()
            ptr, self._ptr = self._ptr, None
            type(self)._free(ptr)

    def __enter__(self):
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            if getattr(self, "_ptr", None) is not None and not any(not u.closed for u in self._users):
                self.close()
        except Exception:
            pass
