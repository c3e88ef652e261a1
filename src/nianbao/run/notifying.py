"""After a run is published: its notifications (nianbao.notify) and its JUnit XML report (nianbao.junit).

Both come after the run: a notification is about a published run, and neither may change its exit
code. The notifications' outcome is added to the run's run_results.json (replaced atomically) and
failures are printed to stderr in Chinese.
"""

from __future__ import annotations

import json
import os
import sys

from .. import junit, notify, paths
from .checkpoint import RunOutcome


def notify_settings(args) -> notify.Settings:
    """The run's receivers: the command line's, else `[tool.nianbao.notify]` of the project's pyproject.toml."""
    return notify.settings(
        notify.project_settings(paths.ROOT),
        webhooks=getattr(args, "notify_webhook", None) or (),
        webhook_format=getattr(args, "notify_format", None),
        email_to=getattr(args, "notify_email", None) or (),
        disabled=bool(getattr(args, "no_notify", False)),
    )


def notify_after(outcome: RunOutcome, config: notify.Settings) -> dict | None:
    """Send the run's one message when it completed with new findings; record and print the outcome."""
    if not config.configured or not outcome.summary.get("completed"):
        return None
    try:
        record = notify.notify_run(outcome.summary, outcome.findings, str(outcome.site_index or ""), config)
    except Exception as exc:  # never the run's failure: record it and go on
        record = {"sent": False, "deliveries": [], "error": f"{type(exc).__name__}: {exc}"}
        print(f"注意:发送通知时出错:{record['error']}", file=sys.stderr)
    for d in record.get("deliveries", []):
        if d["ok"]:
            print(f"已发送通知:{d['channel']} {d['target']}(新增 {record['new_findings']} 条)")
        else:
            print(f"注意:通知发送失败:{d['channel']} {d['target']}:{d['error']}(不影响退出码)", file=sys.stderr)
    if not record.get("deliveries") and "reason" in record:
        print(f"未发送通知:{record['reason']}")
    _record(outcome, record)
    return record


def _record(outcome: RunOutcome, record: dict) -> None:
    """Add `notifications` to the published run's run_results.json, replaced in one step."""
    if outcome.run_dir is None:
        return
    path = outcome.run_dir / "run_results.json"
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        doc["notifications"] = record
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps(doc, ensure_ascii=False, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        os.replace(tmp, path)
    except (OSError, ValueError) as exc:
        print(f"注意:无法把通知结果写入 {path}:{exc}", file=sys.stderr)
    outcome.summary["notifications"] = record


def write_junit(outcome: RunOutcome, path) -> None:
    """`--junit-xml FILE`: the run's findings for CI; a failure to write it is printed, the exit code kept."""
    if not path:
        return
    try:
        junit.write(path, outcome.summary, outcome.findings, outcome.message)
    except OSError as exc:
        print(f"注意:无法写入 JUnit XML 文件 {path}:{exc}", file=sys.stderr)
