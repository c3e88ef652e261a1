"""Runs: a checkpoint over a data folder (`nianbao run`), or over one draft (`nianbao gate`).

One module per concern: selection (dbt-like --select), checkpoint (one run, from the data to the
published site), outputs (findings, history and pages after GX has judged), site (staging and the
atomic swap), history (previous and latest runs), gate (the draft), commands (printing, exit codes).

Exit codes (nianbao.exitcodes.ExitCode, from the one pure function exit_code()):
  0 OK                every selected expectation passed
  1 WARNINGS          only warn-severity rules failed or identities were not assessable: publication allowed
  2 ERRORS            an error-severity rule failed, or an expectation raised: publication blocked
  3 INPUT_UNREADABLE  input could not be read or parsed: the gate's draft rejected or missing a statutory
                      table, a data folder without reports, ids or levels that fail their format check
  4 CONFIG_ERROR      configuration or runtime error: unknown checkpoint, bad --select, a suite that lost
                      expectations, GX crashing, the findings query and GX disagreeing on failing rows
 64 USAGE             a command line that cannot be parsed, or a bad value given on it (as sysexits' EX_USAGE)
GX marks a checkpoint unsuccessful when only warnings failed, so the code is computed from the rules'
severities and from expectations that raised, never from GX's `success`.
"""

from .checkpoint import RunOutcome, new_run_id, run_checkpoint
from .errors import EXIT_ZH, RunError
from .gate import gate
from .history import latest_run, previous_run
from .selection import Selection, parse_selection
from .site import prune_gx_results

__all__ = [
    "EXIT_ZH",
    "RunError",
    "RunOutcome",
    "Selection",
    "gate",
    "latest_run",
    "new_run_id",
    "parse_selection",
    "previous_run",
    "prune_gx_results",
    "run_checkpoint",
]
