"""Make a data folder (DATA/<table>/*.parquet) visible to GX as one asset per suite, on an engine.

Each suite's asset is its table filtered to the suite's format version, with the report columns
its rules read (level) joined from `reports`. The four datasources are declared once in
great_expectations.yml (`datasources_config()` is what they must say; a test compares). attach() never rewrites the yml:
the SQL datasources take their connection string from an environment variable (GX substitutes
${VAR} when it builds the engine), and the file datasources are pointed at the run's work folder
in memory only, because GX does not substitute variables in base_directory.

  duckdb  one table per suite, read from the Parquet files into an in-memory DuckDB database (default)
  sql     any SQLAlchemy URL (SQLite file, PostgreSQL): tables loaded, one view per suite
  pandas  one Parquet file per suite materialised in work_dir, read by GX's pandas engine
  spark   the same files read by Spark in local mode (small data)
"""
from __future__ import annotations

import decimal
import os
import uuid
import warnings
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import sqlalchemy as sa

from . import rules as R
from . import schema as S
from . import violations

ENGINES = ("duckdb", "pandas", "sql", "spark")
DATASOURCES = {e: f"nianbao_{e}" for e in ENGINES}
ENV_DUCKDB = "NIANBAO_DUCKDB"
ENV_SQL = "NIANBAO_SQL_URL"
BATCH_DEFINITION = "all"
# DuckDB holds the suite tables in memory and spills to work_dir beyond this (national scale: 1,000,000
# reports must run in under 2 GB with Python, GX and pandas beside it).
DUCKDB_MEMORY_LIMIT = os.environ.get("NIANBAO_DUCKDB_MEMORY", "640MB")
REPORT_COLUMNS = ("agency", "region", "year", "level")
STATUTORY_TABLES = ("applications", "active_disclosure", "review_litigation")
WHERE_KEYS = ("region", "year", "agency", "report_ids")
# GX counts the failing rows of each expectation and lists up to 20 of their report ids (its pages
# show them); the complete list comes from nianbao.violations, checked against GX's count. Only
# report_id goes to GX as index column, because GX's pages do not escape free text like agency names.
PARTIAL_IDS = 20
RESULT_FORMAT = {"result_format": "SUMMARY", "unexpected_index_column_names": ["report_id"],
                 "partial_unexpected_count": PARTIAL_IDS, "exclude_unexpected_values": True,
                 "include_unexpected_rows": False}
SPARK_CONFIG = {
    "spark.master": "local[1]",
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.log.level": "ERROR",
    "spark.sql.shuffle.partitions": "1",
    "spark.sql.session.timeZone": "UTC",
    # Spark serves parity on small data here: compiling each of GX's many tiny queries costs more
    # than interpreting them (measured: about half the time with code generation off).
    "spark.sql.codegen.wholeStage": "false",
    "spark.sql.codegen.factoryMode": "NO_CODEGEN",
    "spark.sql.adaptive.enabled": "false",
}
_ID_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://nianbao/datasources")


class DataFolderError(ValueError):
    """The data folder cannot be attached (missing table folder, missing columns, duplicate reports)."""


def _id(*parts: str) -> str:
    return str(uuid.uuid5(_ID_NAMESPACE, "/".join(parts)))


# --- The committed datasource configuration ---------------------------------------------------


def datasources_config() -> dict:
    """The `fluent_datasources` section great_expectations.yml must hold (stable ids)."""
    out = {}
    for engine, name in DATASOURCES.items():
        ds: dict = {"type": "sql" if engine in ("duckdb", "sql") else f"{engine}_filesystem", "id": _id(name)}
        assets = {}
        for suite in R.SUITES:
            bd = {"id": _id(name, suite, BATCH_DEFINITION)}
            if engine in ("duckdb", "sql"):
                asset = {"type": "table", "id": _id(name, suite), "batch_metadata": {}, "table_name": suite}
                bd["partitioner"] = None
            else:
                asset = {"type": "parquet", "id": _id(name, suite)}
                bd["partitioner"] = {"regex": rf"{suite}\.parquet$", "param_names": []}
            asset["batch_definitions"] = {BATCH_DEFINITION: bd}
            assets[suite] = asset
        ds["assets"] = assets
        if engine in ("duckdb", "sql"):
            ds["connection_string"] = "${%s}" % (ENV_DUCKDB if engine == "duckdb" else ENV_SQL)
        else:
            # Placeholder: attach() points the datasource at the run's work folder (in memory).
            ds["base_directory"] = f"uncommitted/engines/{engine}"
            if engine == "spark":
                ds["spark_config"] = dict(SPARK_CONFIG)
        out[name] = ds
    return out


# --- SQL that builds the per-suite assets ------------------------------------------------------


def _like(value: str, prefix: bool) -> str:
    """A LIKE pattern literal for a prefix or a substring match of `value` (escape: backslash)."""
    escaped = str(value).replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return violations.literal(escaped + "%" if prefix else "%" + escaped + "%")


def _as_list(value) -> list:
    return list(value) if isinstance(value, (list, tuple, set, frozenset)) else [value]


def where_sql(where: dict | None) -> list[str]:
    """SQL conditions for a selection: region prefix, year, agency substring, report ids."""
    where = dict(where or {})
    unknown = sorted(set(where) - set(WHERE_KEYS))
    if unknown:
        raise ValueError(f"unknown selection key(s) {unknown}; known: {list(WHERE_KEYS)}")
    conds = []
    if where.get("region"):
        conds.append(" OR ".join(f"r.region LIKE {_like(v, True)} ESCAPE '\\'" for v in _as_list(where["region"])))
    if where.get("year"):
        conds.append("r.year IN (" + ", ".join(str(int(y)) for y in _as_list(where["year"])) + ")")
    if where.get("agency"):
        conds.append(" OR ".join(f"r.agency LIKE {_like(v, False)} ESCAPE '\\'"
                                 for v in _as_list(where["agency"])))
    if where.get("report_ids") is not None:
        ids = _as_list(where["report_ids"])
        bad = [i for i in ids if not S.REPORT_ID_PATTERN.match(str(i))]
        if bad:
            raise ValueError(f"not report ids: {bad[:5]}")
        conds.append("t.report_id IN (" + (", ".join(violations.literal(i) for i in ids) or "NULL") + ")")
    return [f"({c})" for c in conds]


def _report_columns(suite: str) -> list[str]:
    """Columns of `reports` the suite's rules read (R10 reads the level)."""
    used = {r.params.get("level_column") for r in R.rules_for_suite(suite)}
    return [c for c in REPORT_COLUMNS if c in used]


def suite_sql(suite: str, where: dict | None = None, prefix: str = "nb_") -> str:
    """SELECT of one suite's asset over the tables <prefix><table>.

    The asset is the table's rows of the suite's format version, with the report columns its rules
    read. `reports` is joined only for those, or to filter by region, year or agency: at 1,000,000
    reports the join doubled the time to build the tables.
    """
    table, version = R.SUITES[suite]
    report_cols = _report_columns(suite)
    conds = ([f"t.format_version = {violations.literal(version)}"] if version else []) + where_sql(where)
    # Decimal amounts go to GX as DOUBLE: GX 1.24.1 serialises every Decimal in a result through
    # convert_decimal_to_float, which calls inspect.stack() per value (measured: 75 % of a 20k run).
    cols = ", ".join([f"CAST(t.{c} AS DOUBLE PRECISION) AS {c}" if c in S.DECIMAL_COLUMNS else f"t.{c}"
                      for c in S.TABLE_SCHEMAS[table].names] + [f"r.{c}" for c in report_cols])
    sql = f"SELECT {cols} FROM {prefix}{table} AS t"
    if report_cols or any((where or {}).get(k) for k in ("region", "year", "agency")):
        sql += f" LEFT JOIN {prefix}reports AS r ON r.report_id = t.report_id"
    return sql + (" WHERE " + " AND ".join(conds) if conds else "")


def _table_columns(table: str) -> list[str]:
    if table == "reports":
        return ["report_id", *REPORT_COLUMNS]
    return S.TABLE_SCHEMAS[table].names


def _check_columns(files: list[Path], required: list[str]) -> None:
    """Every file holds every column the checks read (union_by_name would quietly fill in blanks)."""
    for path in files:
        present = set(pq.read_schema(path).names)
        missing = [c for c in required if c not in present]
        if missing:
            raise DataFolderError(f"{path}: missing column(s) {missing[:8]}{' ...' if len(missing) > 8 else ''}"
                                  " (see docs/data-contract.md)")


def _source_views(con, data_dir: Path, work_dir: Path) -> None:
    """Views nb_<table> over the Parquet files of the data folder, checked against the schema."""
    for table in ("reports", *STATUTORY_TABLES):
        folder = data_dir / table
        if table == "reports" and not folder.is_dir():
            raise DataFolderError(f"{data_dir}: no reports/ folder; not a nianbao data folder")
        files = sorted(folder.glob("*.parquet")) if folder.is_dir() else []
        _check_columns(files, _table_columns(table))
        if files:
            source = f"read_parquet({violations.literal(str(folder / '*.parquet'))}, union_by_name = true)"
        else:
            empty = work_dir / "empty" / f"{table}.parquet"
            empty.parent.mkdir(parents=True, exist_ok=True)
            pq.write_table(S.TABLE_SCHEMAS[table].empty_table(), empty)
            source = f"read_parquet({violations.literal(str(empty))})"
        cols = ", ".join(_table_columns(table))
        con.execute(f"CREATE OR REPLACE VIEW nb_{table} AS SELECT {cols} FROM {source}")
    dup = con.execute("SELECT report_id, count(*) FROM nb_reports GROUP BY 1 HAVING count(*) > 1 LIMIT 3").fetchall()
    if dup:
        raise DataFolderError(f"{data_dir / 'reports'}: report_id not unique, e.g. {dup[0][0]} ({dup[0][1]} rows)")


# --- Engines -----------------------------------------------------------------------------------


class Attached(dict):
    """Each suite's batch definition on the engine, and the violations of the rows GX will validate."""

    def __init__(self, batch_definitions: dict, prepared: "Prepared"):
        super().__init__(batch_definitions)
        self.prepared = prepared

    @property
    def violations(self) -> pa.Table:
        return self.prepared.violations


def _duckdb_engine_config() -> dict:
    """The configuration duckdb_engine (GX's SQLAlchemy driver) opens DuckDB with.

    DuckDB shares a named in-memory database between connections of one process only when they
    were opened with the same configuration; duckdb_engine 0.17 adds its user agent.
    """
    import duckdb_engine

    if not duckdb_engine.supports_user_agent:
        return {}
    return {"custom_user_agent": f"duckdb_engine/{duckdb_engine.__version__}"
                                 f"(sqlalchemy/{duckdb_engine.sqlalchemy_version})"}


def _build_duckdb(name: str, data_dir: Path, where: dict | None, work_dir: Path):
    """An in-memory DuckDB database `name` with one table per suite, read once from the Parquet files;
    the open connection (the database lives while one is open) and the violations.

    Tables, not views over read_parquet: GX sends a few queries per expectation, and a view over
    a folder of many small Parquet files re-reads every file's metadata each time (measured: 0.7 s
    per query over 67 files, 0.01 s on a table). In memory, not in a file: writing the tables to
    disk took half of the build (1,000,000 reports: 12.7 s to a file, 6.4 s in memory).
    """
    con = duckdb.connect(f":memory:{name}", config=_duckdb_engine_config())
    try:
        con.execute("SET preserve_insertion_order = false")
        con.execute(f"SET memory_limit = '{DUCKDB_MEMORY_LIMIT}'")
        con.execute(f"SET temp_directory = {violations.literal(str(work_dir / 'spill'))}")
        _source_views(con, data_dir, work_dir)
        for suite in R.SUITES:
            con.execute(f"CREATE OR REPLACE TABLE {suite} AS {suite_sql(suite, where)}")
        return con, violations.compute(con, {suite: suite for suite in R.SUITES})
    except BaseException:
        con.close()
        raise


def _materialise(folder: Path, data_dir: Path, where: dict | None, work_dir: Path) -> pa.Table:
    """One Parquet file per suite in `folder`, for the file-based engines; their violations."""
    folder.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect()
    try:
        _source_views(con, data_dir, work_dir)
        for suite in R.SUITES:
            target = folder / f"{suite}.parquet"
            con.execute(f"COPY ({suite_sql(suite, where)}) TO {violations.literal(str(target))} (FORMAT parquet)")
        files = {s: f"read_parquet({violations.literal(str(folder / f'{s}.parquet'))})" for s in R.SUITES}
        return violations.compute(con, files)
    finally:
        con.close()


def _sa_type(arrow_type: pa.DataType, sqlite: bool):
    if pa.types.is_decimal(arrow_type):
        return sa.Float() if sqlite else sa.Numeric(arrow_type.precision, arrow_type.scale)
    if pa.types.is_integer(arrow_type):
        return sa.BigInteger()
    if pa.types.is_floating(arrow_type):
        return sa.Float()
    if pa.types.is_boolean(arrow_type):
        return sa.Boolean()
    return sa.Text()


def _rows(table: pa.Table, sqlite: bool, chunk: int = 5000):
    """Row dicts in chunks; Decimal becomes float on SQLite, which cannot bind Decimal."""
    for batch in table.to_batches(max_chunksize=chunk):
        rows = batch.to_pylist()
        if sqlite:
            rows = [{k: float(v) if isinstance(v, decimal.Decimal) else v for k, v in r.items()} for r in rows]
        yield rows


def _load_sql(db_url: str, data_dir: Path, where: dict | None, work_dir: Path) -> pa.Table:
    """Load the tables into the database at db_url, create one view per suite; the rows' violations."""
    con = duckdb.connect()
    engine = sa.create_engine(db_url)
    sqlite = engine.dialect.name == "sqlite"
    try:
        _source_views(con, data_dir, work_dir)
        with engine.begin() as conn:
            for suite in R.SUITES:
                conn.execute(sa.text(f"DROP VIEW IF EXISTS {suite}"))
            for table in ("reports", *STATUTORY_TABLES):
                data = con.sql(f"SELECT * FROM nb_{table}").to_arrow_table()
                conn.execute(sa.text(f"DROP TABLE IF EXISTS nb_{table}"))
                target = sa.Table(f"nb_{table}", sa.MetaData(),
                                  *[sa.Column(f.name, _sa_type(f.type, sqlite)) for f in data.schema])
                target.create(conn)
                for rows in _rows(data, sqlite):
                    conn.execute(target.insert(), rows)
            for suite in R.SUITES:
                conn.execute(sa.text(f"CREATE VIEW {suite} AS {suite_sql(suite, where)}"))
        return violations.compute(con, {suite: f"({suite_sql(suite, where)})" for suite in R.SUITES})
    finally:
        con.close()
        engine.dispose()


def _point_file_datasource(ctx, engine: str, folder: Path) -> None:
    """Point the pandas/Spark datasource at `folder` for this context only (the yml is untouched)."""
    ds = ctx.data_sources.get(DATASOURCES[engine])
    ds.base_directory = folder
    # GX builds each asset's file connector from base_directory when the datasource loads.
    ds._rebuild_asset_data_connectors()


def _start_spark(config: dict) -> None:
    """Start the Spark session with the datasource's config before GX does.

    GX first takes SparkSession.builder.getOrCreate() without any config, then stops and restarts
    it because core options (master, UI) cannot change at run time: a second JVM start and a warning.
    """
    from pyspark.sql import SparkSession

    if SparkSession.getActiveSession() is None:
        builder = SparkSession.builder
        for key, value in config.items():
            builder = builder.config(key, value)
        builder.getOrCreate()


@dataclass(frozen=True)
class Prepared:
    """The data, loaded where `engine` reads it; what bind() needs to point GX at it."""
    engine: str
    violations: pa.Table
    folder: Path | None = None      # pandas / Spark: the materialised Parquet files
    keepalive: object = None        # DuckDB: a connection that keeps the in-memory database alive

    def close(self) -> None:
        """Release the in-memory database (once GX is done with it)."""
        if self.keepalive is not None:
            self.keepalive.close()


def prepare(engine: str, data_dir: Path, *, db_url: str | None = None, where: dict | None = None,
            work_dir: Path) -> Prepared:
    """Load data_dir where `engine` reads it and list the rows' violations; needs no GX context.

    Kept apart from bind() so a run can do it while `import great_expectations` takes its seconds
    (DuckDB works outside the GIL)."""
    if engine not in ENGINES:
        raise ValueError(f"unknown engine {engine!r}; known: {list(ENGINES)}")
    data_dir = Path(data_dir).resolve()
    if not data_dir.is_dir():
        raise DataFolderError(f"{data_dir}: data folder does not exist")
    work_dir = Path(work_dir).resolve()
    work_dir.mkdir(parents=True, exist_ok=True)
    where_sql(where)  # reject a bad selection before any work
    if engine == "duckdb":
        name = f"nianbao_{uuid.uuid4().hex[:12]}"
        con, found = _build_duckdb(name, data_dir, where, work_dir)
        os.environ[ENV_DUCKDB] = f"duckdb:///:memory:{name}"
        return Prepared(engine, found, keepalive=con)
    if engine == "sql":
        if not db_url:
            raise ValueError("engine 'sql' needs db_url (a SQLAlchemy URL, e.g. sqlite:////tmp/nianbao.db)")
        found = _load_sql(db_url, data_dir, where, work_dir)
        os.environ[ENV_SQL] = db_url
        return Prepared(engine, found)
    folder = work_dir / engine
    return Prepared(engine, _materialise(folder, data_dir, where, work_dir), folder)


def bind(ctx, prepared: Prepared) -> Attached:
    """Point the engine's GX datasource at the prepared data: each suite's batch definition."""
    engine = prepared.engine
    if engine == "sql":
        # One generic SQL datasource serves every database; GX's hint to use a dialect-specific one is noise.
        warnings.filterwarnings("ignore", message="You are using a generic SQLDatasource")
    elif engine in ("pandas", "spark"):
        # Spark binds and advertises on loopback only (context.get_context() sets this too).
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
        _point_file_datasource(ctx, engine, prepared.folder)
        if engine == "spark":
            _start_spark(ctx.data_sources.get(DATASOURCES["spark"]).spark_config or {})
    return Attached({suite: batch_definition(ctx, engine, suite) for suite in R.SUITES}, prepared)


def attach(ctx, engine: str, data_dir: Path, *, db_url: str | None = None, where: dict | None = None,
           work_dir: Path) -> Attached:
    """Make data_dir visible on `engine`: each suite's batch definition, and the rows' violations."""
    return bind(ctx, prepare(engine, data_dir, db_url=db_url, where=where, work_dir=work_dir))


def batch_definition(ctx, engine: str, suite: str):
    """The batch definition of `suite`'s asset on `engine` (after attach() on the same context)."""
    asset = ctx.data_sources.get(DATASOURCES[engine]).get_asset(suite)
    return asset.get_batch_definition(BATCH_DEFINITION)
