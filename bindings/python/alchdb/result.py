"""Results copied out of the library into Python values.

Text-format values are converted by column type: bool, the integer types and
oid become int/bool, float4/float8 float, numeric decimal.Decimal, bytea
bytes; everything else stays str (json, dates and times included: parse them
as the application needs). SQL NULL is None.
"""
from __future__ import annotations

import ctypes
import decimal
from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence, Tuple

from ._lib import lib

Row = Tuple[Any, ...]


def _bool(s: str) -> bool:
    return s == "t"


def _bytea(s: str) -> bytes:
    # The server's default bytea_output is hex: "\x0a1b...".
    if s.startswith("\\x"):
        return bytes.fromhex(s[2:])
    return s.encode("latin-1")


_CONVERT: Dict[int, Callable[[str], Any]] = {
    16: _bool, 17: _bytea, 20: int, 21: int, 23: int, 26: int,
    700: float, 701: float, 1700: decimal.Decimal,
}


def _columns(ptr: ctypes.c_void_p) -> Tuple[List[str], List[Optional[Callable[[str], Any]]], List[int]]:
    n = lib.alchdb_result_ncols(ptr)
    names = [lib.alchdb_result_column_name(ptr, i).decode("utf-8", "replace") for i in range(max(n, 0))]
    types = [lib.alchdb_result_column_type(ptr, i) for i in range(max(n, 0))]
    return names, [_CONVERT.get(t) for t in types], types


def _row(ptr: ctypes.c_void_p, r: int, conv: Sequence[Optional[Callable[[str], Any]]]) -> Row:
    out = []
    for c, f in enumerate(conv):
        if lib.alchdb_result_is_null(ptr, r, c) == 1:
            out.append(None)
            continue
        n = lib.alchdb_result_length(ptr, r, c)
        raw = ctypes.string_at(lib.alchdb_result_value(ptr, r, c), n)
        text = raw.decode("utf-8", "replace")
        out.append(f(text) if f else text)
    return tuple(out)


class Result:
    """The rows of one statement.

    Attributes:
        columns: column names, in order.
        column_types: PostgreSQL type OIDs of the columns.
        rows: the rows as tuples.
        command_tag: "SELECT 3", "UPDATE 1", ...
        affected_rows: rows affected or returned, from the command tag.
    """

    def __init__(self, columns: List[str], column_types: List[int], rows: List[Row],
                 command_tag: str, affected_rows: int) -> None:
        self.columns = columns
        self.column_types = column_types
        self.rows = rows
        self.command_tag = command_tag
        self.affected_rows = affected_rows

    @classmethod
    def take(cls, ptr: ctypes.c_void_p) -> "Result":
        """Copy an alchdb_result and free it."""
        try:
            names, conv, types = _columns(ptr)
            rows = [_row(ptr, r, conv) for r in range(lib.alchdb_result_nrows(ptr))]
            return cls(names, types, rows, lib.alchdb_result_command_tag(ptr).decode(),
                       lib.alchdb_result_affected_rows(ptr))
        finally:
            lib.alchdb_result_free(ptr)

    def __len__(self) -> int:
        return len(self.rows)

    def __iter__(self) -> Iterator[Row]:
        return iter(self.rows)

    def __getitem__(self, i: int) -> Row:
        return self.rows[i]

    def dicts(self) -> List[Dict[str, Any]]:
        """The rows as dicts keyed by column name."""
        return [dict(zip(self.columns, r)) for r in self.rows]

    def scalar(self) -> Any:
        """The first column of the first row (None when there is no row)."""
        return self.rows[0][0] if self.rows and self.columns else None

    def __repr__(self) -> str:
        return "<alchdb.Result %r, %d rows>" % (self.command_tag, len(self.rows))
