"""`nianbao run | gate | demo`: a run's outcome printed in Chinese, and its exit code returned."""

from __future__ import annotations

import sys

from .. import paths, report
from ..exitcodes import ExitCode
from .checkpoint import RunOutcome, run_checkpoint
from .errors import EXIT_ZH
from .gate import gate


def print_outcome(outcome: RunOutcome) -> None:
    """What a scheduler's log shows of a run: counts, problems, where the results and the site are."""
    s = outcome.summary
    if outcome.message:
        print(f"nianbao: {outcome.message}", file=sys.stderr)
    if s.get("completed"):
        c = s["counts"]
        severity, history = c["by_severity"], c["history"]
        print(
            f"检查点 {s['checkpoint']} 运行 {s['run_id']}:检查 {s['reports_validated']} 份报告,"
            f"{c['failing_reports']} 个单位未通过(错误 {severity['error']} 条,警告 {severity['warn']} 条,"
            f"无法核验 {c['by_status']['not_assessable']} 条;"
            f"新增 {history['new']},持续 {history['persisting']},已整改 {history['resolved']})"
        )
        for p in s.get("raised", []) + s.get("problems", []):
            print(f"注意:{p['code']} {p.get('rule_id', '')} {p.get('message', '')}", file=sys.stderr)
        waivers = s.get("waivers") or {}
        if waivers.get("waived"):
            print(f"已豁免 {waivers['waived']} 条(见豁免清单 {waivers.get('file')},不计入以上数字)")
        for n in waivers.get("notices", []):
            print(f"注意:{n['code']} {n['message']}", file=sys.stderr)
        print(f"结果:{outcome.run_dir}/findings.parquet 与 run_results.json")
        print(f"审计首页:{outcome.site_index}")
    print(f"退出码 {int(outcome.exit_code)}({outcome.exit_code.name}:{EXIT_ZH[outcome.exit_code]})")


def _run(checkpoint: str, args) -> RunOutcome:
    """A checkpoint run with the command line's data folder, engine, selection and run name, printed."""
    outcome = run_checkpoint(
        checkpoint,
        data_dir=args.data,
        engine=args.engine,
        db_url=args.db_url,
        select=args.select,
        run_name=args.run_name,
        roster_file=getattr(args, "roster", None),
        full_refresh=getattr(args, "full_refresh", False),
    )
    print_outcome(outcome)
    return outcome


def command_run(args) -> ExitCode:
    """`nianbao run [CHECKPOINT] [--data DIR] [--select ...] [--engine ...]`."""
    from .. import notify
    from .notifying import notify_after, notify_settings, write_junit

    try:  # a wrong notification setting is found before the run, not after an hour of checking
        notify_config = notify_settings(args)
    except notify.NotifyConfigError as exc:
        print(f"nianbao: 通知配置错误:{exc}", file=sys.stderr)
        return ExitCode.CONFIG_ERROR
    outcome = _run(args.checkpoint, args)
    # After the run: neither the JUnit file nor a notification can change its exit code.
    write_junit(outcome, getattr(args, "junit_xml", None))
    notify_after(outcome, notify_config)
    return outcome.exit_code


def command_gate(args) -> ExitCode:
    """`nianbao gate FILE`: the verdict on a draft, in Chinese."""
    outcome, meta, notes = gate(
        args.file,
        agency=args.agency,
        region=args.region,
        year=args.year,
        level=args.level,
        engine=args.engine,
        db_url=args.db_url,
        select=args.select,
        run_name=args.run_name,
    )
    if outcome.summary.get("completed"):
        print(report.gate_text(outcome, source=args.file, report_meta=meta, notes=notes))
    else:
        print(f"发布前检查:{args.file}\n结论:{report.VERDICT[int(outcome.exit_code)]}\n原因:{outcome.message}")
    from .notifying import write_junit

    write_junit(outcome, getattr(args, "junit_xml", None))
    return outcome.exit_code


def command_demo(args) -> ExitCode:
    """The README's main job: ingest data/inbox/ into data/, run nightly, print where the site is."""
    from .. import ingest

    inbox = paths.DATA_DIR / "inbox"
    if inbox.is_dir() and any(inbox.iterdir()):
        manifest = inbox / "manifest.csv"  # region and level are rarely printed in the report itself
        print(ingest.ingest([inbox], paths.DATA_DIR, manifest=manifest if manifest.is_file() else None).text())
    outcome = _run("nightly", args)
    if outcome.summary.get("completed"):
        print(f"演示完成。nightly 的退出码为 {int(outcome.exit_code)}(示例数据中有故意注入的错误),演示本身返回 0。")
        return ExitCode.OK
    return outcome.exit_code
