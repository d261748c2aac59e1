"""Migration risk checks and index-advisor reports."""
from __future__ import annotations

import ctypes
import json
from typing import Any, Iterable, Mapping, Optional, Tuple, Union

from . import errors
from ._lib import lib, take_string
from .options import Config, OptionValue


class MigrationReport:
    """The assessment of migration files.

    Attributes:
        max_risk: the highest risk found, by name ("none", "low", ... as the library names them).
        data: the assessment as documented in docs/migration.md (parsed JSON).
        text: the assessment for people.
    """

    def __init__(self, max_risk: str, data: Any, text: str) -> None:
        self.max_risk = max_risk
        self.data = data
        self.text = text


def check_migration(files: Union[Mapping[str, str], Iterable[Tuple[str, str]]],
                    options: Optional[Mapping[str, OptionValue]] = None) -> MigrationReport:
    """Assess migration SQL: files maps display names to SQL text.
    options: the migration module's options by name (e.g. {"conninfo": ...} for table sizes)."""
    items = list(files.items()) if isinstance(files, Mapping) else list(files)
    m = ctypes.c_void_p()
    with Config("migration", options) as cfg:
        errors.check(lib.alchdb_migration_new(cfg.ptr, ctypes.byref(m)))
    try:
        for name, sql in items:
            if not isinstance(name, str) or not isinstance(sql, str):
                raise errors.invalid("files: names and SQL must be str")
            data = sql.encode()
            errors.check(lib.alchdb_migration_add_file(m, name.encode(), data, len(data)))
        risk = errors.check(lib.alchdb_migration_max_risk(m))
        out = ctypes.c_void_p()
        errors.check(lib.alchdb_migration_to_json(m, ctypes.byref(out)))
        data = json.loads(take_string(out))
        errors.check(lib.alchdb_migration_to_text(m, ctypes.byref(out)))
        text = take_string(out)
        return MigrationReport(lib.alchdb_migration_risk_name(risk).decode(), data, text)
    finally:
        lib.alchdb_migration_free(m)


class AdvisorReport:
    """An index-advisor report.

    Attributes:
        data: the report (parsed JSON: tables, unused_indexes, missing_indexes, ...).
        text: the report for people.
        script: CREATE INDEX CONCURRENTLY statements, then the DROPs commented out.
    """

    def __init__(self, data: Any, text: str, script: str) -> None:
        self.data = data
        self.text = text
        self.script = script


def advise(conninfo: str, queries: Iterable[Union[str, Tuple[str, int, float]]] = (),
           options: Optional[Mapping[str, OptionValue]] = None) -> AdvisorReport:
    """Analyse the indexes of a live database (read-only).
    queries: workload statements, as SQL text or (sql, calls, total_time_ms)."""
    if not isinstance(conninfo, str):
        raise errors.invalid("conninfo must be a str")
    opts = dict(options or {})
    opts["conninfo"] = conninfo
    with Config("advisor", opts) as cfg:
        for q in queries:
            sql, calls, total = (q, 1, 0.0) if isinstance(q, str) else q
            errors.check(lib.alchdb_advisor_config_add_query(cfg.ptr, sql.encode(), calls, total))
        rep = ctypes.c_void_p()
        errors.check(lib.alchdb_advisor_analyze(cfg.ptr, ctypes.byref(rep)))
    try:
        out = ctypes.c_void_p()
        errors.check(lib.alchdb_advisor_report_to_json(rep, ctypes.byref(out)))
        data = json.loads(take_string(out))
        errors.check(lib.alchdb_advisor_report_to_text(rep, ctypes.byref(out)))
        text = take_string(out)
        script = (lib.alchdb_advisor_report_script(rep) or b"").decode()
        return AdvisorReport(data, text, script)
    finally:
        lib.alchdb_advisor_report_free(rep)
