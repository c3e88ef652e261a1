"""`nianbao waive`: add one waiver to waivers.yml, for a finding that a run really reported.

The waiver records the finding's cells with the values printed in that run, so it holds for exactly
those numbers (nianbao.waivers). A waiver for a finding no run reported would hide nothing today and
whatever comes later: it is refused.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pyarrow.compute as pc
import pyarrow.parquet as pq

from .. import paths
from .. import waivers as W
from ..exitcodes import ExitCode
from . import history


def _run_dir(name: str) -> Path | None:
    """The run folder named on the command line: `latest`, a run id under uncommitted/runs, or a path."""
    if name == "latest":
        return history.latest_run()
    for candidate in (paths.RUNS_DIR / name, Path(name)):
        if (candidate / "findings.parquet").is_file():
            return candidate
    return None


def _refuse(message: str, code: ExitCode = ExitCode.USAGE) -> ExitCode:
    print(f"nianbao waive: {message}", file=sys.stderr)
    return code


def command_waive(args) -> ExitCode:
    """`nianbao waive --report R… --rule R10.rules --reason … --approved-by … --expires YYYY-MM-DD [--run latest]`."""
    try:
        expires = W.parse_date(args.expires)
    except ValueError:
        return _refuse(f"--expires {args.expires!r} 不是 YYYY-MM-DD 日期")
    if expires < W.today():
        return _refuse(f"--expires {expires.isoformat()} 已经过去;豁免须有未来的截止日期")
    if not args.reason.strip() or not args.approved_by.strip():
        return _refuse("--reason 与 --approved-by 不能为空")
    try:
        existing = W.load()
    except W.WaiverError as exc:
        return _refuse(str(exc), ExitCode.CONFIG_ERROR)
    run = _run_dir(args.run)
    if run is None or not (run / "findings.parquet").is_file():
        return _refuse(f"找不到运行 {args.run!r} 的检查结果(uncommitted/runs/…/findings.parquet);请先运行检查")
    table = pq.read_table(run / "findings.parquet")
    of_report = table.filter(pc.equal(table["report_id"], args.report))
    rows = of_report.filter(pc.equal(of_report["rule_id"], args.rule)).to_pylist()
    if not rows:
        others = sorted(set(of_report["rule_id"].to_pylist()))
        hint = f"该报告在这次运行中的问题:{'、'.join(others)}" if others else "该报告在这次运行中没有任何问题"
        return _refuse(f"运行 {run.name} 中没有报告 {args.report} 违反规则 {args.rule} 的检查结果,不能豁免;{hint}")
    finding = rows[0]
    cells = json.loads(finding["cells"] or "{}")
    for w in existing:
        if (w.report_id, w.rule_id) == (args.report, args.rule) and W.same_cells(w.cells, cells):
            return _refuse(f"豁免清单已有{w.describe()}豁免同一问题的同样数值;续期请修改该条的 expires 并经审核")
    entry = {
        "report_id": args.report,
        "rule_id": args.rule,
        "agency": finding["agency"] or "",
        "region": finding["region"] or "",
        "year": finding["year"],
        "cells": cells,
        "reason": args.reason.strip(),
        "approved_by": args.approved_by.strip(),
        "expires": expires,
        "added": W.today(),
    }
    try:
        waiver = W.add(entry)
    except W.WaiverError as exc:
        return _refuse(str(exc), ExitCode.CONFIG_ERROR)
    printed = ",".join(f"{c} = {v}" for c, v in cells.items())
    print(
        f"已添加豁免:{W.default_path()} {waiver.describe()},单元格 {printed},有效期至 {expires.isoformat()}。"
        "该文件须经审核后提交;单元格数值改变或过期后豁免失效。"
    )
    return ExitCode.OK
