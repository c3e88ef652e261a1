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
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import sqlalchemy as sa

from . import datafolder, derived, duck, violations, year_pairs
from . import rules as R
from . import schema as S

ENGINES = ("duckdb", "pandas", "sql", "spark")
DEFAULT_ENGINE = "duckdb"
DATASOURCES = {e: f"nianbao_{e}" for e in ENGINES}
CHECKPOINTS = ("nightly", "gate")
ENV_ENGINE = "NIANBAO_ENGINE"  # the engine when --engine is not given (like a dbt target)
ENV_DUCKDB = "NIANBAO_DUCKDB"
ENV_SQL = "NIANBAO_SQL_URL"
BATCH_DEFINITION = "all"
# DuckDB holds the suite tables in memory and spills to work_dir beyond this (national scale: 1,000,000
# reports must run in under 2 GB with Python, GX and pandas beside it).
DUCKDB_MEMORY_LIMIT = os.environ.get("NIANBAO_DUCKDB_MEMORY", "640MB")
REPORT_COLUMNS = ("agency", "region", "year", "level")
WHERE_KEYS = ("region", "year", "agency", "report_ids")
SELECTION_TABLE = "selection"  # <prefix>selection: the selection's values, one row per (key, value)
# GX counts the failing rows of each expectation and lists up to 20 of their report ids (its pages
# show them); the complete list comes from nianbao.violations, checked against GX's count. Only
# report_id goes to GX as index column, because GX's pages do not escape free text like agency names.
PARTIAL_IDS = 20
RESULT_FORMAT = {
    "result_format": "SUMMARY",
    "unexpected_index_column_names": ["report_id"],
    "partial_unexpected_count": PARTIAL_IDS,
    "exclude_unexpected_values": True,
    "include_unexpected_rows": False,
}
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


def resolve_engine(engine: str | None = None) -> str:
    """The engine of a run, chosen at run time like a dbt target: --engine, else $NIANBAO_ENGINE, else
    `[tool.nianbao] engine` in the project's pyproject.toml, else DuckDB."""
    return engine or os.environ.get(ENV_ENGINE) or _project_setting("engine") or DEFAULT_ENGINE


def resolve_db_url(db_url: str | None = None) -> str | None:
    """The SQLAlchemy URL of the sql engine: --db-url, else $NIANBAO_SQL_URL."""
    return db_url or os.environ.get(ENV_SQL) or None


def _project_setting(key: str):
    """A value of `[tool.nianbao]` in the project's pyproject.toml (None when absent)."""
    import tomllib

    from .paths import ROOT

    try:
        with open(ROOT / "pyproject.toml", "rb") as fh:
            return tomllib.load(fh).get("tool", {}).get("nianbao", {}).get(key)
    except (OSError, ValueError):
        return None


def checkpoint_name(name: str, engine: str = DEFAULT_ENGINE) -> str:
    """Stored name of a checkpoint (and of a validation definition) on an engine: `nightly` on the
    default engine, `nightly__pandas` on pandas.

    GX 1.24 runs only saved checkpoints whose validation definitions are saved and unchanged:
    Checkpoint.run() calls is_fresh(), which compares each validation definition, its suite and its
    batch definition with the stores. A validation definition pointed in memory at another engine's
    asset is not fresh (ValidationDefinitionNotFreshError; tests/test_engines.py shows it), and adding
    one at run time writes it into validation_definitions/. So each engine's checkpoints and validation
    definitions are saved files, generated by `nianbao generate` and never edited by hand; which engine
    runs is still chosen at run time (resolve_engine).
    """
    return name if engine == DEFAULT_ENGINE else f"{name}__{engine}"


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
        for suite in R.ALL_SUITES:
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
    """A LIKE pattern for a prefix or a substring match of `value` (escape: backslash); a bound value, never SQL."""
    escaped = str(value).replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return escaped + "%" if prefix else "%" + escaped + "%"


def _as_list(value) -> list:
    return list(value) if isinstance(value, (list, tuple, set, frozenset)) else [value]


def selection_rows(where: dict | None) -> list[tuple[str, str]]:
    """The rows (key, value) of the selection table: LIKE patterns of regions and agencies, years, report ids.

    ValueError for an unknown key, a year that is not a number or a value that is not a report id."""
    where = dict(where or {})
    unknown = sorted(set(where) - set(WHERE_KEYS))
    if unknown:
        raise ValueError(f"unknown selection key(s) {unknown}; known: {list(WHERE_KEYS)}")
    rows = [("region", _like(v, True)) for v in _as_list(where.get("region") or [])]
    rows += [("year", str(int(y))) for y in _as_list(where.get("year") or [])]
    rows += [("agency", _like(v, False)) for v in _as_list(where.get("agency") or [])]
    ids = _as_list(where["report_ids"]) if where.get("report_ids") is not None else []
    bad = [i for i in ids if not S.REPORT_ID_PATTERN.match(str(i))]
    if bad:
        raise ValueError(f"not report ids: {bad[:5]}")
    return rows + [("report_id", str(i)) for i in ids]


def where_sql(where: dict | None, prefix: str = "nb_") -> list[str]:
    """SQL conditions for a selection: region prefix, year, agency substring, report ids.

    The values are read from the table <prefix>selection (selection_rows, loaded with bound parameters),
    never written into the SQL: an agency may be named `平潭 :x`, and SQLAlchemy's text() takes `:x` in
    the text of a view for a bind parameter, while a view cannot take bind parameters on PostgreSQL."""
    where = dict(where or {})
    selection_rows(where)  # reject a bad selection
    values = f"{prefix}{SELECTION_TABLE} AS s"
    conds = [
        f"EXISTS (SELECT 1 FROM {values} WHERE s.key = '{key}' AND r.{key} LIKE s.value ESCAPE '\\')"
        for key in ("region", "agency")
        if where.get(key)
    ]
    if where.get("year"):
        conds.append(f"r.year IN (SELECT CAST(s.value AS INTEGER) FROM {values} WHERE s.key = 'year')")
    if where.get("report_ids") is not None:
        conds.append(f"t.report_id IN (SELECT s.value FROM {values} WHERE s.key = 'report_id')")
    return [f"({c})" for c in conds]


DERIVED = derived.DERIVED


def _derived_inputs(con, agency_keys=None) -> dict:
    """Build every derived asset's input tables; what each records for run_results.json (agency_keys:
    the keys already made for this snapshot, nianbao.incremental.Hashed)."""
    return derived.build_inputs(con, "nb_", agency_keys)


def _derived_values(con, sources: dict[str, str], found: pa.Table) -> dict[str, pa.Table]:
    """Per derived suite, its asset's rows of the reports with violations there: the values findings
    explain (a statutory table's are read back from the data folder; these exist only in the asset)."""
    out = {}
    cursor = con.cursor()  # its own results: the connection's last query may still hold one
    try:
        for suite in DERIVED:
            ids = found.filter(pc.equal(found["suite"], suite))["report_id"].to_pylist()
            out[suite] = cursor.sql(
                f"SELECT a.* FROM {sources[suite]} AS a SEMI JOIN (SELECT unnest(?::VARCHAR[]) AS report_id) AS w"
                " ON a.report_id = w.report_id",
                params=[ids],
            ).to_arrow_table()
    finally:
        cursor.close()
    return out


def _report_columns(suite: str) -> list[str]:
    """Columns of `reports` the suite's rules read (R10 reads the level)."""
    used = {r.params.get("level_column") for r in R.rules_for_suite(suite)}
    return [c for c in REPORT_COLUMNS if c in used]


def suite_sql(suite: str, where: dict | None = None, prefix: str = "nb_") -> str:
    """SELECT of one suite's asset over the tables <prefix><table>.

    The asset is the table's rows of the suite's format version, with the report columns its rules
    read. `reports` is joined only for those, or to filter by region, year or agency: at 1,000,000
    reports the join doubled the time to build the tables. A derived suite's SELECT comes from its
    DerivedAsset (DERIVED), over the same views and the tables its inputs() made.
    """
    if suite in DERIVED:
        return derived.select(suite, where_sql(where, prefix), prefix)
    table, version = R.SUITES[suite]
    report_cols = _report_columns(suite)
    conds = ([f"t.format_version = {violations.literal(version)}"] if version else []) + where_sql(where, prefix)
    # Decimal amounts go to GX as DOUBLE: GX 1.24.1 serialises every Decimal in a result through
    # convert_decimal_to_float, which calls inspect.stack() per value (measured: 75 % of a 20k run).
    cols = ", ".join(
        [
            f"CAST(t.{c} AS DOUBLE PRECISION) AS {c}" if c in S.DECIMAL_COLUMNS else f"t.{c}"
            for c in S.TABLE_SCHEMAS[table].names
        ]
        + [f"r.{c}" for c in report_cols]
    )
    sql = f"SELECT {cols} FROM {prefix}{table} AS t"
    if report_cols or any((where or {}).get(k) for k in ("region", "year", "agency")):
        sql += f" LEFT JOIN {prefix}reports AS r ON r.report_id = t.report_id"
    return sql + (" WHERE " + " AND ".join(conds) if conds else "")


def _table_columns(table: str) -> list[str]:
    if table == "reports":
        return ["report_id", *REPORT_COLUMNS, *year_pairs.REPORT_COLUMNS]
    return S.TABLE_SCHEMAS[table].names


def _check_columns(files: list[Path], required: list[str]) -> None:
    """Every file holds every column the checks read (union_by_name would quietly fill in blanks)."""
    for path in files:
        present = set(pq.read_schema(path).names)
        missing = [c for c in required if c not in present]
        if missing:
            raise DataFolderError(
                f"{path}: missing column(s) {missing[:8]}{' ...' if len(missing) > 8 else ''}"
                " (see docs/data-contract.md)"
            )


def _source_views(con, snapshot: datafolder.Snapshot, work_dir: Path) -> None:
    """Views nb_<table> over the Parquet files of one snapshot of the data folder, checked against the schema."""
    data_dir = snapshot.data_dir
    for table in (datafolder.REPORTS, *S.STATUTORY_TABLES, datafolder.SECTIONS, datafolder.VERSIONS):
        if table == datafolder.REPORTS and not (data_dir / table).is_dir():
            raise DataFolderError(f"{data_dir}: no reports/ folder; not a nianbao data folder")
        files = snapshot.files(table)
        _check_columns(files, _table_columns(table))
        source = snapshot.source(table)
        if source is None:
            empty = work_dir / "empty" / f"{table}.parquet"
            empty.parent.mkdir(parents=True, exist_ok=True)
            pq.write_table(S.TABLE_SCHEMAS[table].empty_table(), empty)
            source = f"read_parquet({violations.literal(str(empty))})"
        cols = ", ".join(_table_columns(table))
        con.execute(f"CREATE OR REPLACE VIEW nb_{table} AS SELECT {cols} FROM {source}")
    dup = con.execute("SELECT report_id, count(*) FROM nb_reports GROUP BY 1 HAVING count(*) > 1 LIMIT 3").fetchall()
    if dup:
        raise DataFolderError(f"{data_dir / 'reports'}: report_id not unique, e.g. {dup[0][0]} ({dup[0][1]} rows)")


def _load_selection(con, where: dict | None) -> None:
    """The table nb_selection in a DuckDB database: the selection's values, inserted as bound parameters."""
    con.execute(f"CREATE OR REPLACE TABLE nb_{SELECTION_TABLE} (key VARCHAR, value VARCHAR)")
    rows = selection_rows(where)
    if rows:  # one bound list per column (executemany took 1.9 s for the 6,000 ids of an incremental night)
        keys, values = zip(*rows)
        con.execute(
            f"INSERT INTO nb_{SELECTION_TABLE} SELECT unnest(?::VARCHAR[]), unnest(?::VARCHAR[])",
            [list(keys), list(values)],
        )


def _count_reports(con, sources: dict[str, str]) -> int:
    """Reports with rows in the suites' assets (`sources`: suite -> table or SELECT): what GX will validate."""
    union = " UNION ALL ".join(f"SELECT report_id FROM {source} AS a" for source in sources.values())
    return con.execute(f"SELECT count(DISTINCT report_id) FROM ({union})").fetchone()[0]


# --- Engines -----------------------------------------------------------------------------------


class Attached(dict):
    """Each suite's batch definition on the engine, and the violations of the rows GX will validate."""

    def __init__(self, batch_definitions: dict, prepared: Prepared):
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
    return {
        "custom_user_agent": f"duckdb_engine/{duckdb_engine.__version__}(sqlalchemy/{duckdb_engine.sqlalchemy_version})"
    }


@dataclass(frozen=True)
class Found:
    """What loading the data found: the rows' violations, the reports validated, what the derived assets
    record for run_results.json, and their rows of the reports with violations (what findings explain)."""

    violations: pa.Table
    reports: int
    derived: dict
    derived_values: dict[str, pa.Table]


def _build_duckdb(name: str, snapshot: datafolder.Snapshot, where: dict | None, work_dir: Path, agency_keys=None):
    """An in-memory DuckDB database `name` with one table per suite, read once from the Parquet files;
    the open connection (the database lives while one is open), the violations and the reports validated.

    Tables, not views over read_parquet: GX sends a few queries per expectation, and a view over
    a folder of many small Parquet files re-reads every file's metadata each time (measured: 0.7 s
    per query over 67 files, 0.01 s on a table). In memory, not in a file: writing the tables to
    disk took half of the build (1,000,000 reports: 12.7 s to a file, 6.4 s in memory).
    """
    con = duck.connect(f":memory:{name}", config=_duckdb_engine_config())
    try:
        con.execute("SET preserve_insertion_order = false")
        con.execute(f"SET memory_limit = '{DUCKDB_MEMORY_LIMIT}'")
        con.execute(f"SET temp_directory = {violations.literal(str(work_dir / 'spill'))}")
        _source_views(con, snapshot, work_dir)
        _load_selection(con, where)
        derived = _derived_inputs(con, agency_keys)
        for suite in R.ALL_SUITES:
            con.execute(f"CREATE OR REPLACE TABLE {suite} AS {suite_sql(suite, where)}")
        tables = {suite: suite for suite in R.ALL_SUITES}
        found = violations.compute(con, tables)
        return con, Found(found, _count_reports(con, tables), derived, _derived_values(con, tables, found))
    except BaseException:
        con.close()
        raise


def _materialise(folder: Path, snapshot: datafolder.Snapshot, where: dict | None, work_dir: Path) -> Found:
    """One Parquet file per suite in `folder`, for the file-based engines; what they hold (Found)."""
    folder.mkdir(parents=True, exist_ok=True)
    con = duck.connect()
    try:
        _source_views(con, snapshot, work_dir)
        _load_selection(con, where)
        derived = _derived_inputs(con)
        for suite in R.ALL_SUITES:
            target = folder / f"{suite}.parquet"
            con.execute(f"COPY ({suite_sql(suite, where)}) TO {violations.literal(str(target))} (FORMAT parquet)")
        files = {s: f"read_parquet({violations.literal(str(folder / f'{s}.parquet'))})" for s in R.ALL_SUITES}
        found = violations.compute(con, files)
        return Found(found, _count_reports(con, files), derived, _derived_values(con, files, found))
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


def _load_sql(db_url: str, snapshot: datafolder.Snapshot, where: dict | None, work_dir: Path) -> Found:
    """Load the tables into the database at db_url, create one view per suite (a table per derived
    suite, its rows selected by DuckDB); what they hold (Found)."""
    con = duck.connect()
    engine = sa.create_engine(db_url)
    sqlite = engine.dialect.name == "sqlite"
    try:
        _source_views(con, snapshot, work_dir)
        _load_selection(con, where)
        derived = _derived_inputs(con)
        with engine.begin() as conn:
            for suite in R.SUITES:
                conn.execute(sa.text(f"DROP VIEW IF EXISTS {suite}"))
            _create_selection(conn, where)
            for table in (datafolder.REPORTS, *S.STATUTORY_TABLES):
                _load_table(conn, f"nb_{table}", con.sql(f"SELECT * FROM nb_{table}").to_arrow_table(), sqlite)
            # The views' text holds no value of the selection (they read nb_selection): nothing in it for
            # text() to take for a bind parameter, nothing for PostgreSQL to refuse in a view.
            for suite in R.SUITES:
                conn.execute(sa.text(f"CREATE VIEW {suite} AS {suite_sql(suite, where)}"))
            for suite in R.DERIVED_SUITES:
                _load_table(conn, suite, con.sql(suite_sql(suite, where)).to_arrow_table(), sqlite)
        assets = {suite: f"({suite_sql(suite, where)})" for suite in R.ALL_SUITES}
        found = violations.compute(con, assets)
        return Found(found, _count_reports(con, assets), derived, _derived_values(con, assets, found))
    finally:
        con.close()
        engine.dispose()


def _load_table(conn, name: str, data: pa.Table, sqlite: bool) -> None:
    """The table `name` in the SQL database, replaced by the rows of `data`."""
    conn.execute(sa.text(f"DROP TABLE IF EXISTS {name}"))
    target = sa.Table(name, sa.MetaData(), *[sa.Column(f.name, _sa_type(f.type, sqlite)) for f in data.schema])
    target.create(conn)
    for rows in _rows(data, sqlite):
        conn.execute(target.insert(), rows)


def _create_selection(conn, where: dict | None) -> None:
    """The table nb_selection in the SQL database (the views read it), its rows inserted as bound parameters."""
    conn.execute(sa.text(f"DROP TABLE IF EXISTS nb_{SELECTION_TABLE}"))
    target = sa.Table(
        f"nb_{SELECTION_TABLE}", sa.MetaData(), sa.Column("key", sa.Text()), sa.Column("value", sa.Text())
    )
    target.create(conn)
    rows = selection_rows(where)
    if rows:
        conn.execute(target.insert(), [{"key": k, "value": v} for k, v in rows])


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
    folder: Path | None = None  # pandas / Spark: the materialised Parquet files
    keepalive: object = None  # DuckDB: a connection that keeps the in-memory database alive
    reports: int | None = None  # reports with rows in the suites' assets: what GX will validate
    derived: dict = field(default_factory=dict)  # per derived suite, what run_results.json records
    derived_values: dict = field(default_factory=dict)  # per derived suite, its rows of reports with violations

    def close(self) -> None:
        """Release the in-memory database (once GX is done with it)."""
        if self.keepalive is not None:
            self.keepalive.close()


def prepare(
    engine: str,
    data_dir: Path,
    *,
    db_url: str | None = None,
    where: dict | None = None,
    work_dir: Path,
    agency_keys: tuple[pa.Table, dict] | None = None,
) -> Prepared:
    """Load data_dir where `engine` reads it and list the rows' violations; needs no GX context.

    Kept apart from bind() so a run can do it while `import great_expectations` takes its seconds
    (DuckDB works outside the GIL). agency_keys: the snapshot's keys when already made (DuckDB only)."""
    if engine not in ENGINES:
        raise ValueError(f"unknown engine {engine!r}; known: {list(ENGINES)}")
    if not isinstance(data_dir, datafolder.Snapshot):
        data_dir = Path(data_dir).resolve()
    snapshot = datafolder.as_snapshot(data_dir)  # every file read below is this snapshot's
    if not snapshot.data_dir.is_dir():
        raise DataFolderError(f"{snapshot.data_dir}: data folder does not exist")
    work_dir = Path(work_dir).resolve()
    work_dir.mkdir(parents=True, exist_ok=True)
    selection_rows(where)  # reject a bad selection before any work
    if engine == "duckdb":
        name = f"nianbao_{uuid.uuid4().hex[:12]}"
        con, found = _build_duckdb(name, snapshot, where, work_dir, agency_keys)
        os.environ[ENV_DUCKDB] = f"duckdb:///:memory:{name}"
        return _prepared(engine, found, keepalive=con)
    if engine == "sql":
        if not db_url:
            raise ValueError("engine 'sql' needs db_url (a SQLAlchemy URL, e.g. sqlite:////tmp/nianbao.db)")
        found = _load_sql(db_url, snapshot, where, work_dir)
        os.environ[ENV_SQL] = db_url
        return _prepared(engine, found)
    folder = work_dir / engine
    return _prepared(engine, _materialise(folder, snapshot, where, work_dir), folder=folder)


def _prepared(engine: str, found: Found, **kwargs) -> Prepared:
    return Prepared(
        engine,
        found.violations,
        reports=found.reports,
        derived=found.derived,
        derived_values=found.derived_values,
        **kwargs,
    )


def release(ctx, prepared: Prepared) -> None:
    """Once GX has validated: close GX's own connection to the in-memory database, then ours, so that
    DuckDB frees it (640 MB at 1,000,000 reports, held through findings and pages otherwise). GX keeps
    that connection open for DuckDB (compat's persisted connection) in its datasource's cached engine."""
    if prepared.engine == "duckdb":
        datasource = ctx.data_sources.get(DATASOURCES["duckdb"])
        engine = getattr(datasource, "_execution_engine", None)
        if engine is not None:
            engine.close()
            datasource._execution_engine = None
    prepared.close()


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
    return Attached({suite: batch_definition(ctx, engine, suite) for suite in R.ALL_SUITES}, prepared)


def attach(
    ctx, engine: str, data_dir: Path, *, db_url: str | None = None, where: dict | None = None, work_dir: Path
) -> Attached:
    """Make data_dir visible on `engine`: each suite's batch definition, and the rows' violations."""
    return bind(ctx, prepare(engine, data_dir, db_url=db_url, where=where, work_dir=work_dir))


def batch_definition(ctx, engine: str, suite: str):
    """The batch definition of `suite`'s asset on `engine` (after attach() on the same context)."""
    asset = ctx.data_sources.get(DATASOURCES[engine]).get_asset(suite)
    return asset.get_batch_definition(BATCH_DEFINITION)
