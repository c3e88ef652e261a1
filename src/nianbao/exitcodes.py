"""Exit codes of every nianbao command, computed by one pure function; only cli.main() exits."""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0  # every check passed (or the command had nothing to check)
    WARNINGS = 1  # only warn-severity rules failed: publication allowed
    ERRORS = 2  # an error-severity rule failed, or an expectation raised: publication blocked
    INPUT_UNREADABLE = 3  # an input could not be read or parsed into the three tables
    CONFIG_ERROR = 4  # configuration or runtime error (missing suite, dropped expectations, crash)
    # The command line itself is wrong (unknown option or choice, --year abc, --level bogus): sysexits'
    # EX_USAGE, because argparse's own 2 would read as ERRORS, a blocked publication.
    USAGE = 64


def exit_code(
    *,
    failed_severities: set[str],
    raised: bool = False,
    input_rejected: bool = False,
    config_error: bool = False,
    usage_error: bool = False,
) -> ExitCode:
    """The exit code for one run: the worst outcome wins; an expectation that raised is never a pass."""
    if usage_error:
        return ExitCode.USAGE
    if config_error:
        return ExitCode.CONFIG_ERROR
    if input_rejected:
        return ExitCode.INPUT_UNREADABLE
    if raised or "error" in failed_severities:
        return ExitCode.ERRORS
    if "warn" in failed_severities:
        return ExitCode.WARNINGS
    return ExitCode.OK


def exit_now(code: int) -> None:
    """Exit without tearing the interpreter down object by object.

    After a nightly run that teardown alone took about 2 s (100,000 reports: GX's and pandas'
    objects freed one by one). Every file we write is closed by then; stdio and logging are
    flushed and a Spark session is stopped here, then the process ends with `code`.
    """
    import logging
    import os
    import sys

    if "pyspark" in sys.modules:
        from pyspark.sql import SparkSession

        session = SparkSession.getActiveSession()
        if session is not None:
            session.stop()
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
