"""The publication gate: one agency's draft parsed, written as a one-report data folder, and run
through the `gate` checkpoint. A draft that cannot be read whole is never a pass."""

from __future__ import annotations

import traceback
from pathlib import Path

from .. import datafolder, engines, paths
from .. import schema as S
from ..exitcodes import ExitCode, exit_code
from .checkpoint import RunOutcome, RunPlan, crashed, execute, failed_outcome, new_run_id, run_lock, unfreezing
from .errors import RunError
from .selection import parse_selection


def gate(
    path,
    *,
    agency=None,
    region=None,
    year=None,
    level=None,
    engine: str | None = None,
    db_url=None,
    select=(),
    run_name=None,
) -> tuple[RunOutcome, dict, list[str]]:
    """Parse a draft, write it as a one-report data folder in the run dir, run the `gate` checkpoint."""
    run_id = new_run_id("gate")
    run_tmp = paths.RUNS_DIR / f"{run_id}.partial"
    source = str(path)
    with run_lock():
        run_tmp.mkdir(parents=True, exist_ok=True)
        extra = {"checkpoint": "gate", "source_file": source}
        try:
            selection = parse_selection(select)
            parsed = _parse_draft(Path(path), {"agency": agency, "region": region, "year": year, "level": level})
            from .. import ingest_file

            rows = ingest_file.report_rows(parsed)
            meta_row = rows["reports"][0]
            rid = meta_row["report_id"]
            data = datafolder.write_report(rows, run_tmp / "data")
            notes = gate_notes(parsed)
            plan = RunPlan(
                "gate",
                data,
                datafolder.open_snapshot(data),  # the draft's own folder: nobody else writes it
                f"report:{rid}",
                engines.resolve_engine(engine),
                engines.resolve_db_url(db_url),
                selection,
                run_name,
                run_id,
                run_tmp,
            )
            outcome = unfreezing(
                execute, plan, {**extra, "report_id": rid, "parse_status": parsed.status, "notes": notes}
            )
            outcome.exit_code = draft_verdict(outcome.exit_code, parsed)
            return outcome, meta_row, notes
        except RunError as exc:
            return failed_outcome(exc, run_id, run_tmp, extra), {}, []
        except Exception as exc:
            return failed_outcome(crashed(exc), run_id, run_tmp, {**extra, "traceback": traceback.format_exc()}), {}, []


def _parse_draft(path: Path, meta: dict):
    """The draft parsed; RunError(INPUT_UNREADABLE) naming the file when it cannot be read or parsed."""
    from .. import ingest, ingest_file

    source = str(path)
    try:
        parsed = ingest_file.parse_one(path, ingest.clean_meta(meta))
    except (OSError, ValueError) as exc:
        raise RunError(ExitCode.INPUT_UNREADABLE, f"{source}:无法读取:{exc}") from exc
    problem = unreadable(parsed, source)
    if problem:
        raise problem
    return parsed


def unreadable(parsed, source: str) -> RunError | None:
    """RunError(INPUT_UNREADABLE) naming the parser's reason when it found no tables in the draft, else None."""
    if parsed.status == "rejected":
        return RunError(ExitCode.INPUT_UNREADABLE, f"{source}:无法解析出三张统计表:{parsed.reason}")
    return None


def draft_verdict(checked: ExitCode, parsed) -> ExitCode:
    """The verdict on a draft: the checks' exit code, except that a draft missing a whole statutory table
    is never a pass (the gate cannot pass what it could not read whole)."""
    if tables_missing(parsed):
        return exit_code(failed_severities=set(), input_rejected=True)
    return checked


def tables_missing(parsed) -> list[str]:
    """Whole statutory tables the draft lacks."""
    return [m for m in parsed.missing if "." not in m]


def gate_notes(parsed) -> list[str]:
    """What the verdict must say about the parse: missing tables, unread cells, format deviations."""
    notes = []
    missing = tables_missing(parsed)
    if missing:
        notes.append(
            "报告缺少整张表:" + "、".join(S.TABLE_TITLES.get(m, m) for m in missing) + ";无法完成检查,不能视为通过"
        )
    cells = [m for m in parsed.missing if "." in m]
    if cells:
        notes.append(f"有 {len(cells)} 处内容未能解析:" + "、".join(cells[:8]) + ("……" if len(cells) > 8 else ""))
    if parsed.deviations:
        notes.append("格式偏差:" + "、".join(parsed.deviations))
    return notes
