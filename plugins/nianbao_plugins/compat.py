"""Workarounds for GX 1.24.1, each refused on any other version (tests pin their effect).

DuckDB through SQLAlchemy: keep one connection open, or every metric sees no rows.

GX's SqlAlchemyExecutionEngine.execute_query() returns a result from inside `with engine.connect()`
and GX fetches it after the connection closed. psycopg2 and sqlite buffer rows; duckdb_engine does
not, so the fetch returns [] and every metric fails ("list index out of range"). GX already keeps a
persisted connection (StaticPool) for a few dialects; we add duckdb to that list. The fix reaches
into a private module constant, so it is pinned to the GX version it was written and tested for.
"""

from __future__ import annotations

import great_expectations
import great_expectations.execution_engine.sqlalchemy_execution_engine as _engine_module
from great_expectations.exceptions import InvalidExpectationKwargsError
from great_expectations.expectations.expectation import parse_result_format

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


def _require(version: str | None, what: str) -> None:
    version = great_expectations.__version__ if version is None else version
    if version != FIXED_FOR_GX:
        raise IncompatibleGXVersion(
            f"nianbao_plugins.compat: {what} was verified on great_expectations {FIXED_FOR_GX}, but {version} "
            "is installed; re-run tests/test_engines.py::test_duckdb_fix_is_needed_and_works, "
            "tests/test_suites.py::test_kwargs_fix_returns_what_gx_returns and tests/test_compat.py against the "
            "new version and update FIXED_FOR_GX, or pin great-expectations==1.24.1"
        )


def apply_duckdb_fix(version: str | None = None) -> None:
    """Make GX keep one open connection for DuckDB; refuse on any GX other than 1.24.1."""
    _require(version, "the DuckDB persisted-connection fix")
    if not duckdb_fix_applied():
        _engine_module._PERSISTED_CONNECTION_DIALECTS = (
            *_engine_module._PERSISTED_CONNECTION_DIALECTS,
            _Dialect(DIALECT),
        )


# --- Expectation kwargs: one configuration per call, not one per key ---------------------------
#
# GX 1.24.1's Expectation._get_domain_kwargs / _get_success_kwargs / _get_runtime_kwargs evaluate
# `self.configuration` (a fresh ExpectationConfiguration built from the pydantic model) once per
# key, inside dict comprehensions: about 100 rebuilds per expectation while the metric graph is
# built (measured: 7.9 s of a 25 s gate under cProfile). These replacements read it once per call;
# they return the same dicts, and nothing is cached across calls, so nothing can go stale.


def _domain_kwargs(self, kwargs=None):
    kwargs = self.configuration.kwargs if kwargs is None else kwargs
    domain = {key: kwargs.get(key, self._get_default_value(key)) for key in self.domain_keys}
    missing = set(self.domain_keys) - set(domain)
    if missing:
        raise InvalidExpectationKwargsError(f"Missing domain kwargs: {list(missing)}")
    return domain


def _success_kwargs(self, kwargs=None):
    kwargs = self.configuration.kwargs if kwargs is None else kwargs
    success = {key: kwargs.get(key, self._get_default_value(key)) for key in self.success_keys}
    success.update(_domain_kwargs(self, kwargs))
    return success


def _runtime_kwargs(self, runtime_configuration=None):
    runtime_configuration = runtime_configuration or {}
    kwargs = self.configuration.kwargs
    out = {}
    for key in self.runtime_keys:
        if key in runtime_configuration:
            out[key] = runtime_configuration[key]
        elif key in kwargs:
            out[key] = kwargs[key]
        else:
            field = self.__fields__.get(key)
            out[key] = None if field is None or field.required else field.default
    out.update(_success_kwargs(self, kwargs))
    out["result_format"] = parse_result_format(out["result_format"])
    return out


def configuration_fix_applied() -> bool:
    from great_expectations.expectations.expectation import Expectation

    return Expectation._get_success_kwargs is _success_kwargs


def apply_configuration_fix(version: str | None = None) -> None:
    """Read an expectation's configuration once per kwargs lookup; refuse on any GX other than 1.24.1."""
    from great_expectations.expectations.expectation import Expectation

    _require(version, "the expectation-kwargs speed-up")
    Expectation._get_domain_kwargs = _domain_kwargs
    Expectation._get_success_kwargs = _success_kwargs
    Expectation._get_runtime_kwargs = _runtime_kwargs


# --- Column names: one dictionary lookup, not a scan of the table's columns ---------------------
#
# GX 1.24.1 maps every column of every metric to the batch's column by scanning all of the batch's
# columns in Python (metrics/util.py _verify_column_names_exist_and_get_normalized_typed_column_names_map):
# our wide expectations name up to 180 columns of 200-column tables, about 5,000 scans per run
# (0.6 s of a one-report gate). The replacement answers from a dictionary when the answer is
# certainly GX's: batch columns are plain str with no backtick-quoted name, and the requested
# names carry no quoting; anything else (and every error) goes to GX's own function.

_QUOTING = ('"', "[", "]", "`")
_LOOKUPS: dict[tuple, dict | None] = {}


def _column_lookup(batch_columns: tuple) -> dict | None:
    """casefold(name) -> the first batch column with that casefold, or None if the fast path is unsafe."""
    if batch_columns in _LOOKUPS:
        return _LOOKUPS[batch_columns]
    lookup: dict | None = {}
    for column in batch_columns:
        if type(column) is not str or column.startswith("`"):
            lookup = None
            break
        lookup.setdefault(column.casefold(), column)
    if len(_LOOKUPS) > 64:
        _LOOKUPS.clear()
    _LOOKUPS[batch_columns] = lookup
    return lookup


def _make_fast_column_map(original):
    def fast(column_names, batch_columns_list, error_message_template=None, verify_only=False):
        kwargs = {} if error_message_template is None else {"error_message_template": error_message_template}
        lookup = _column_lookup(tuple(batch_columns_list))
        names = column_names if isinstance(column_names, list) else [column_names]
        out = []
        for name in names:
            hit = lookup.get(name.casefold()) if lookup is not None and isinstance(name, str) else None
            if hit is None or any(q in name for q in _QUOTING):
                return original(column_names, batch_columns_list, verify_only=verify_only, **kwargs)
            out.append((name, hit))
        return None if verify_only else out

    fast.original = original
    return fast


def column_fix_applied() -> bool:
    from great_expectations.expectations.metrics import util

    return hasattr(util._verify_column_names_exist_and_get_normalized_typed_column_names_map, "original")


def apply_column_fix(version: str | None = None) -> None:
    """Map metric column names through a dictionary; refuse on any GX other than 1.24.1."""
    from great_expectations.expectations.metrics import util

    _require(version, "the column-name lookup speed-up")
    if not column_fix_applied():
        util._verify_column_names_exist_and_get_normalized_typed_column_names_map = _make_fast_column_map(
            util._verify_column_names_exist_and_get_normalized_typed_column_names_map
        )
