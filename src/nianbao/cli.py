"""Command line: `nianbao <command>`. Only main() exits; every command returns an ExitCode."""

from __future__ import annotations

import argparse
import importlib
import sys

from .exitcodes import exit_code, exit_now

# command -> (module, function); modules are imported lazily because GX's import alone takes seconds.
COMMANDS = {
    "parse": ("nianbao.parse", "command"),
    "ingest": ("nianbao.ingest", "command"),
    "synth": ("nianbao.synth", "command"),
    "generate": ("nianbao.generate", "command"),
    "run": ("nianbao.run.commands", "command_run"),
    "gate": ("nianbao.run.commands", "command_gate"),
    "demo": ("nianbao.run.commands", "command_demo"),
    "bench": ("nianbao.bench", "command"),
    "serve": ("nianbao.serve.command", "command"),
    "waive": ("nianbao.run.waive", "command_waive"),
    "prune": ("nianbao.run.prune", "command_prune"),
    "export": ("nianbao.exports", "command_export"),
    "notice": ("nianbao.exports", "command_notice"),
}


class UsageError(Exception):
    """The command line is wrong; main() exits with ExitCode.USAGE."""


class Parser(argparse.ArgumentParser):
    """argparse that hands a usage error to main() instead of exiting with its own 2 (our ERRORS)."""

    def error(self, message: str):
        """Print the usage and the error to stderr, as argparse does, then leave the exit to main()."""
        self.print_usage(sys.stderr)
        print(f"{self.prog}: 用法错误:{message}", file=sys.stderr)
        raise UsageError(message)


def report_meta(key: str):
    """An argparse type for --year, --level or --region, checked as ingest checks a report's metadata:
    a bad value on the command line is a usage error in every command."""

    def check(text: str):
        from .ingest import ManifestError, clean_meta  # only when the option is given: ingest imports pyarrow

        try:
            return clean_meta({key: text}).get(key)
        except ManifestError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    check.__name__ = key  # argparse names the type in its message
    return check


def add_report_meta(parser: argparse.ArgumentParser, *keys: str) -> None:
    """The options --agency, --region, --year, --level that set a report's metadata."""
    for key in keys:
        parser.add_argument(f"--{key}", type=None if key == "agency" else report_meta(key))


def build_parser() -> argparse.ArgumentParser:
    p = Parser(prog="nianbao", description="政府信息公开工作年度报告 数据质量检查")
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("parse", help="parse one report file and print it")
    s.add_argument("file")
    s.add_argument("--json", action="store_true", help="print the corpus JSON shape")
    add_report_meta(s, "agency", "region", "year")

    s = sub.add_parser("ingest", help="parse report files (or folders, recursively) into the Parquet tables")
    s.add_argument("paths", nargs="+")
    s.add_argument("--out", default=None, help="data folder (default: data/)")
    s.add_argument("--manifest", help="CSV with columns file, agency, region, year (and optionally level)")
    add_report_meta(s, "agency", "region", "year", "level")
    s.add_argument(
        "--parse-timeout",
        type=float,
        default=None,
        metavar="SECONDS",
        help="seconds one file may take to parse before it is rejected as parser-timeout "
        "(default: $NIANBAO_PARSE_TIMEOUT or 300; 0 = no limit)",
    )
    s.add_argument(
        "--parse-memory",
        type=float,
        default=None,
        metavar="MB",
        help="MB one file's parse may allocate before it is rejected as parser-out-of-memory "
        "(default: $NIANBAO_PARSE_MEMORY or 4096; 0 = no limit)",
    )

    s = sub.add_parser("synth", help="generate a synthetic national corpus into the Parquet tables")
    size = s.add_mutually_exclusive_group(required=True)
    size.add_argument("--reports", type=int, help="reports in all (beyond one national year: several years)")
    size.add_argument("--series", help="years FIRST-LAST, e.g. 2019-2025: every agency's report of each year")
    s.add_argument("--agencies", type=int, help="with --series: agencies reporting each year")
    s.add_argument("--crossyear-rate", type=float, default=0.02, help="with --series: R11/R12 breaks per report")
    s.add_argument("--missing-rate", type=float, default=0.01, help="with --series: share of skipped agency-years")
    s.add_argument("--out", required=True)
    s.add_argument("--error-rate", type=float, default=0.02)
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--year", type=int, default=2024)
    s.add_argument("--errors-per-report", type=int, default=1, help="tables with an injected error (1-3)")
    s.add_argument(
        "--text",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="write the reports' text (sections) with injected text errors (default: on for --series)",
    )
    s.add_argument("--text-error-rate", type=float, default=None, help="share of reports per text error kind")

    s = sub.add_parser(
        "generate",
        help="write every generated file: suites, checkpoints, validation "
        "definitions, datasources, the rule and data-contract docs",
    )
    s.add_argument("--check", action="store_true", help="fail if any file on disk differs")

    for name in ("run", "gate", "demo"):
        s = sub.add_parser(name)
        if name == "run":
            s.add_argument("checkpoint", nargs="?", default="nightly")
            s.add_argument("--roster", default=None, help="roster CSV for R29/R28 (default: roster.csv in --data)")
            # Notifications of a run's new findings (docs/notify.md); these replace [tool.nianbao.notify]'s.
            s.add_argument("--notify-webhook", action="append", default=None, metavar="URL", help="POST new findings")
            s.add_argument("--notify-format", default=None, choices=["json", "wecom", "dingtalk"])
            s.add_argument(
                "--notify-email", action="append", default=None, metavar="TO", help="SMTP from $NIANBAO_SMTP_*"
            )
            s.add_argument("--no-notify", action="store_true", help="send no notification for this run")
            s.add_argument(
                "--full-refresh",
                action="store_true",
                help="nightly: validate every report, not only those changed since the last one (docs/incremental.md)",
            )
        if name == "gate":
            s.add_argument("file", help="draft report (any input kind ingest reads)")
            add_report_meta(s, "agency", "region", "year", "level")
        s.add_argument("--data", default=None, help="data folder (default: data/)")
        s.add_argument(
            "--select",
            nargs="*",
            default=[],
            help="rule:R1 severity:error region:江苏省 year:2023 agency:... (dbt-like)",
        )
        s.add_argument(
            "--engine",
            default=None,
            choices=["duckdb", "pandas", "sql", "spark"],
            help="default: $NIANBAO_ENGINE, else [tool.nianbao] engine in pyproject.toml, else duckdb",
        )
        s.add_argument("--db-url", default=None, help="SQLAlchemy URL for --engine sql (default: $NIANBAO_SQL_URL)")
        s.add_argument("--run-name", default=None)
        if name in ("run", "gate"):
            s.add_argument("--junit-xml", default=None, metavar="FILE", help="findings as JUnit XML for CI")

    s = sub.add_parser("serve", help="the gate as an HTTP service and a Chinese upload page")
    s.add_argument("--host", default="127.0.0.1", help="address to listen on (default: loopback only)")
    s.add_argument("--port", type=int, default=8080)
    s.add_argument("--token", default=None, help="shared token a client must send (default: $NIANBAO_SERVE_TOKEN)")
    s.add_argument("--max-upload-mb", type=float, default=50.0, metavar="MB", help="largest upload (default: 50)")
    s.add_argument("--parsers", type=int, default=None, help="parser processes: concurrent parses (default: cores, ≤4)")
    s.add_argument("--max-waiting", type=int, default=64, help="drafts that may wait for a parser; more get 503")
    s.add_argument("--parse-timeout", type=float, default=None, metavar="SECONDS", help="as for ingest")
    s.add_argument("--parse-memory", type=float, default=None, metavar="MB", help="as for ingest")
    s.add_argument("--keep-drafts", default=None, metavar="DIR", help="keep every uploaded draft in DIR")

    s = sub.add_parser("waive", help="acknowledge one finding of a run in waivers.yml (reviewed, with an expiry)")
    s.add_argument("--report", required=True, help="report id (R + 16 hex digits)")
    s.add_argument("--rule", required=True, help="rule id, e.g. R10.rules")
    s.add_argument("--reason", required=True, help="why this is not an error (Chinese)")
    s.add_argument("--approved-by", required=True, help="who approved the waiver")
    s.add_argument("--expires", required=True, help="last day the waiver holds, YYYY-MM-DD")
    s.add_argument("--run", default="latest", help="run whose finding is waived (default: latest)")

    s = sub.add_parser("prune", help="delete old run folders; the history across runs is kept")
    s.add_argument("--keep-runs", type=int, required=True, metavar="N", help="run folders to keep (newest)")

    s = sub.add_parser("export", help="a run's findings as CSV (UTF-8 with BOM) or XLSX, for a notice")
    s.add_argument("--run", default="latest", help="run to export (default: latest)")
    add_report_meta(s, "region", "year")
    s.add_argument("--rule", default=None, help="a rule family (R1) or rule id (R1.total)")
    s.add_argument("--data", default=None, help="data folder (default: the run's)")
    s.add_argument("--resolved", action="store_true", help="the findings corrected since the previous run instead")
    s.add_argument("--out", required=True, help="FILE.xlsx or FILE.csv")

    s = sub.add_parser("notice", help="a draft 通报 (.docx) for one jurisdiction from the latest nightly run")
    s.add_argument("--data", default=None, help="data folder (default: data/)")
    add_report_meta(s, "region", "year")
    s.add_argument("--out", required=True, help="FILE.docx")

    s = sub.add_parser("bench", help="benchmarks (print figures; never assert timings)")
    s.add_argument("what", nargs="?", default="all")
    s.add_argument("--sizes", default=None)
    s.add_argument("--changed", type=int, default=None, help="incremental, scale: reports corrected (default 1000)")

    return p


def main(argv: list[str] | None = None) -> None:
    try:
        args = build_parser().parse_args(argv)
    except UsageError:
        code = exit_code(failed_severities=set(), usage_error=True)
    else:
        module, func = COMMANDS[args.command]
        code = getattr(importlib.import_module(module), func)(args)
    exit_now(int(code))


if __name__ == "__main__":
    main()
