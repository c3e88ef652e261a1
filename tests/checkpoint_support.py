"""Shared fixtures of the checkpoint tests: a private GX root, fixture data folders, CLI runs.

Every run happens in a subprocess with NIANBAO_ROOT pointing at a copy of the project's GX files in a
temporary folder, so tests never touch the checkout's uncommitted/ and each gets its own history.
The fixture reports are written with the Parquet schema of schema.py (the data contract), so the
checkpoints see exactly what ingest or synth would write.
"""

from __future__ import annotations

import atexit
import copy
import functools
import os
import shutil
import subprocess
import sys
import tempfile
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from nianbao import schema as S
from nianbao.paths import ROOT

GX_FILES = ("great_expectations.yml", "expectations", "checkpoints", "validation_definitions")
XSS_AGENCY = "<script>alert(1)</script>局"


def make_root(base: Path) -> Path:
    """A private GX context root: the project's config and stores, an empty uncommitted/."""
    root = Path(base) / "root"
    root.mkdir(parents=True)
    for name in GX_FILES:
        src = ROOT / name
        (shutil.copytree if src.is_dir() else shutil.copy2)(src, root / name)
    (root / "plugins").symlink_to(ROOT / "plugins")
    return root


def run_cli(root: Path, *args: str, env: dict | None = None, timeout: int = 900) -> subprocess.CompletedProcess:
    """`nianbao ARGS` against the private root; stdout/stderr captured as text."""
    inherited = {k: v for k, v in os.environ.items() if k != "NIANBAO_TEST_CRASH_AT"}
    full_env = {**inherited, "NIANBAO_ROOT": str(root), "GX_ANALYTICS_ENABLED": "false", **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "nianbao.cli", *args],
        cwd=root,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


# --- fixture reports --------------------------------------------------------------------------------


def _zeros(version: str) -> dict[str, dict]:
    """Every statutory cell of one report as printed 0 (a report that satisfies every identity)."""
    active = {c: 0 for _, _, c, _ in (S.ACTIVE_2019 if version == S.FORMAT_2019 else S.ACTIVE_2021)}
    for c in S.DECIMAL_COLUMNS:
        if c in active:
            active[c] = Decimal("0")
    keys = S.APPLICATION_ROW_KEYS_SINGLE if version == S.FORMAT_2019 else S.APPLICATION_ROW_KEYS_SUBROWS
    apps = {S.app_col(r, c): 0 for r in keys for c, _ in S.APPLICANT_COLUMNS}
    review = dict.fromkeys(S.REVIEW_COLUMNS, 0)
    # Five requests by natural persons, all granted: non-zero and consistent.
    for row in ("new", "granted", "total"):
        apps[S.app_col(row, "person")] = apps[S.app_col(row, "total")] = 5
    return {"active_disclosure": active, "applications": apps, "review_litigation": review}


def report(
    agency: str,
    region: str,
    level: str,
    year: int,
    version: str = S.FORMAT_2021,
    edits: dict | None = None,
    texts: dict | None = None,
) -> dict:
    """One fixture report: meta, values (zeros plus edits; None = blank) and printed texts."""
    values = _zeros(version)
    for table, cells in (edits or {}).items():
        values[table].update(cells)
    return {
        "report_id": S.report_id_for(agency, region, year),
        "agency": agency,
        "region": region,
        "level": level,
        "year": year,
        "format_version": version,
        "values": values,
        "texts": texts or {},
    }


def base_reports() -> list[dict]:
    """The nightly fixture: one clean report per format, two with errors, two with warnings only."""
    return [
        report("西湖区人民政府", "浙江省杭州市西湖区", "county", 2023),
        report("某县人民政府", "浙江省温州市某县", "county", 2020, S.FORMAT_2019),
        # Report 002's real error: 行政复议 printed 10 + 1 with a 总计 of 0.
        report(
            XSS_AGENCY,
            "江苏省南京市玄武区",
            "county_department",
            2023,
            edits={"review_litigation": {"review_upheld": 10, "review_corrected": 1, "review_total": 0}},
        ),
        report(
            "苏州市财政局",
            "江苏省苏州市",
            "city_department",
            2023,
            edits={"active_disclosure": {"fees_10k_yuan": Decimal("29232200")}},
        ),
        report(
            "天河区人民政府",
            "广东省广州市天河区",
            "county",
            2023,
            edits={"review_litigation": {"review_other": None}},
            texts={"review_litigation": {"review_other": "/"}},
        ),
        report(
            "南山区人民政府",
            "广东省深圳市南山区",
            "county",
            2023,
            edits={"applications": {"new_person": 7, "new_total": 7}},
        ),
    ]


def write_data(folder: Path, reports: list[dict]) -> Path:
    """Write fixture reports as a data folder with the Parquet schemas of schema.py."""
    rows: dict[str, list[dict]] = {t: [] for t in S.TABLE_SCHEMAS}
    for r in reports:
        rows["reports"].append(
            {
                "report_id": r["report_id"],
                "agency": r["agency"],
                "region": r["region"],
                "level": r["level"],
                "year": r["year"],
                "format_version": r["format_version"],
                "format_deviations": "",
                "source_file": f"fixture/{r['report_id']}.txt",
                "source_sha256": None,
                "parse_status": "parsed",
                "parse_reason": "",
                "missing": "",
                "ingested_at": None,
            }
        )
        for table, values in r["values"].items():
            row = dict.fromkeys(S.TABLE_SCHEMAS[table].names)
            row.update(report_id=r["report_id"], format_version=r["format_version"], **values)
            rows[table].append(row)
            printed = r["texts"].get(table, {})
            for column, value in values.items():
                text = printed.get(column, "" if value is None else str(value))
                rows["cells"].append(
                    {
                        "report_id": r["report_id"],
                        "table": table,
                        "column": column,
                        "text": text,
                        "numeric": value is not None,
                        "source": "fixture",
                    }
                )
    for table, schema in S.TABLE_SCHEMAS.items():
        (folder / table).mkdir(parents=True, exist_ok=True)
        pq.write_table(pa.Table.from_pylist(rows[table], schema=schema), folder / table / "fixture.parquet")
    return folder


def edited(reports: list[dict], agency: str, table: str, cells: dict) -> list[dict]:
    """A copy of the fixture with one report's cells changed."""
    out = copy.deepcopy(reports)
    for r in out:
        if r["agency"] == agency:
            r["values"][table].update(cells)
    return out


# --- the shared nightly run -------------------------------------------------------------------------


@functools.cache
def shared_nightly() -> dict:
    """One real `nianbao run nightly` over the base fixture, shared by the run, site and browser tests."""
    base = Path(tempfile.mkdtemp(prefix="nianbao-nightly-"))
    atexit.register(shutil.rmtree, base, True)
    root = make_root(base)
    data = write_data(root / "data", base_reports())  # the root's default data/ folder
    proc = run_cli(root, "run", "nightly")
    return {
        "base": base,
        "root": root,
        "data": data,
        "proc": proc,
        "site": root / "uncommitted" / "data_docs" / "local_site",
        "runs": root / "uncommitted" / "runs",
    }


def clone_root(shared: dict, name: str) -> Path:
    """A copy of the shared run's root (with its history and site) to continue from."""
    target = shared["base"] / name
    shutil.copytree(shared["root"], target, symlinks=True)
    return target


# --- findings made up for the pages' tests --------------------------------------------------------


def failing_frame(agencies, regions, rule_ids="R1.total"):
    """A findings table of one failed error per report (ids R000…), for page tests that need no run."""
    import pandas as pd

    from nianbao import findings as F

    n = len(regions)
    return F.to_frame(
        pd.DataFrame(
            {
                "run_id": "r",
                "report_id": [f"R{i:016X}" for i in range(n)],
                "agency": agencies,
                "region": regions,
                "year": 2024,
                "rule_id": rule_ids,
                "severity": "error",
                "status": "failed",
                "message": "m",
                "cells": "{}",
                "left_value": 1.0,
                "right_value": 2.0,
                "difference": -1.0,
                "suite": "applications_2021",
                "fix": "f",
                "history": "new",
            }
        )
    )


def landing_summary(frame, reports_validated: int, started_at: str = "") -> dict:
    """The run summary the landing page reads, for a made-up findings table."""
    from nianbao import findings as F

    return {
        "run_id": "r",
        "checkpoint": "nightly",
        "started_at": started_at,
        "data_dir": "",
        "select": [],
        "previous_run_id": None,
        "reports_validated": reports_validated,
        "counts": F.counts(frame, F.empty()),
    }
