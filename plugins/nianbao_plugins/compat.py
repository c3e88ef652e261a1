"""DuckDB through SQLAlchemy on GX 1.24.1: keep one connection open, or every metric sees no rows.

GX's SqlAlchemyExecutionEngine.execute_query() returns a result from inside `with engine.connect()`
and GX fetches it after the connection closed. psycopg2 and sqlite buffer rows; duckdb_engine does
not, so the fetch returns [] and every metric fails ("list index out of range"). GX already keeps a
persisted connection (StaticPool) for a few dialects; we add duckdb to that list. The fix reaches
into a private module constant, so it is pinned to the GX version it was written and tested for.
"""
from __future__ import annotations

import great_expectations
import great_expectations.execution_engine.sqlalchemy_execution_engine as _engine_module

FIXED_FOR_GX = "1.24.1"
DIALECT = "duckdb"


class IncompatibleGXVersion(RuntimeError):
    """The installed GX is not the version the DuckDB fix was verified against."""


class _Dialect(str):
    """A dialect name usable where GX expects a GXSqlDialect (GX reads `.value`)."""

    @property
    def value(self) -> str:
        return str(self)


def duckdb_fix_applied() -> bool:
    """True when GX keeps a persisted connection for DuckDB."""
    return any(str(getattr(d, "value", d)) == DIALECT for d in _engine_module._PERSISTED_CONNECTION_DIALECTS)


def apply_duckdb_fix(version: str | None = None) -> None:
    """Make GX keep one open connection for DuckDB; refuse on any GX other than 1.24.1."""
    version = great_expectations.__version__ if version is None else version
    if version != FIXED_FOR_GX:
        raise IncompatibleGXVersion(
            f"nianbao_plugins.compat: the DuckDB persisted-connection fix was verified on great_expectations "
            f"{FIXED_FOR_GX}, but {version} is installed; re-run tests/test_engines.py::test_duckdb_fix_is_needed_and_works "
            "against the new version and update FIXED_FOR_GX, or pin great-expectations==1.24.1")
    if not duckdb_fix_applied():
        _engine_module._PERSISTED_CONNECTION_DIALECTS = (
            *_engine_module._PERSISTED_CONNECTION_DIALECTS, _Dialect(DIALECT))
