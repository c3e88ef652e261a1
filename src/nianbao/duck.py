"""DuckDB connections as nianbao opens them: without DuckDB's progress bar, which it otherwise draws on
stdout for any query longer than two seconds, into the logs of a nightly run."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import duckdb


def connect(database: str = ":memory:", **kwargs) -> duckdb.DuckDBPyConnection:
    """duckdb.connect(database, **kwargs), its progress bar off (a session setting: a named in-memory
    database is still shared with connections opened with the same configuration)."""
    import duckdb  # here: the modules that open connections are imported by commands that never do

    con = duckdb.connect(database, **kwargs)
    con.execute("SET enable_progress_bar = false")
    return con
