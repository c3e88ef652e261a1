#!/usr/bin/env python3
"""Prove that a restructuring changed no output: run two versions of the code, compare what they wrote.

    python benchmarks/compare_outputs.py --baseline REV [--after REV | --after-tree PATH]
        [--bad-night N] [--workdir DIR] [--allow GLOB]... [--keep]

Each version runs its own code (PYTHONPATH=<tree>/src:<tree>/plugins, NIANBAO_ROOT=<tree>) on its own
copy of the repository, through three scenarios: the demo followed by a second nightly run (history),
a bad night on synthetic data made once by the baseline's code, and the publication gate on one inbox
file. Then every file those runs wrote is compared: run folders (Parquet as Arrow tables, run_results.json
without volatile keys), GX's result store, the data-docs site, the demo's ingest tables, and each
command's stdout and exit code. Volatile tokens (run ids, GX run times, timestamps, the tree's path,
durations, random UUIDs) are replaced by placeholders in file contents and in relative paths; every rule
is named below. Exit code: 0 identical (differences only in --allow'ed files), 1 different, 2 the
comparison itself could not run.
"""

from __future__ import annotations

import argparse
import csv
import difflib
import fnmatch
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

SCRIPT_DIR = Path(__file__).resolve().parent

# Never copied into a tree: what earlier runs wrote there (.gitignore lists it), so that each tree
# starts as a fresh checkout would.
NOT_COPIED = ("uncommitted/*", "data/*/ingest*.parquet", "data/_ingest/*")
# Written by `nianbao ingest` (the demo) into data/: compared in the demo scenario.
INGEST_OUTPUTS = ("data/*/ingest*.parquet", "data/_ingest/*")

# The gate's draft: the PDF of data/inbox, so the gate also exercises the PDF reader. Its agency,
# region, year and level come from data/inbox/manifest.csv (`nianbao gate --help`: --agency, --region,
# --year, --level), as an agency would give them.
GATE_FILE = "hongze-2023.pdf"
GATE_OPTIONS = ("agency", "region", "year", "level")
BAD_NIGHT_SYNTH = ("--error-rate", "0.4", "--seed", "0")

# Keys of run_results.json dropped before comparing, as paths into the document. Everything else is
# compared after the text rules below (the tree's paths in data_dir, site.*, latest.json become <TREE>).
VOLATILE_KEYS = (
    ("timings",),  # wall times and peak memory of each step: differ between any two runs
    ("versions",),  # library versions of the one shared environment (nianbao's is the installed
    # distribution's, not the tree's): they cannot tell the trees apart
    ("started_at",),  # wall clock, to the second
    ("finished_at",),  # wall clock, to the second
    ("gx", "run_time"),  # wall clock, to the microsecond (GX's RunIdentifier)
    ("snapshot",),  # the data folder snapshot's id: a wall clock and a random tail (absent in older code)
)

# Literal tokens, read per side from what its runs recorded (run_results.json) and replaced longest first
# (see run_tokens and normaliser):
#   <TREE>                  the tree's absolute path (data_dir, site paths, the ingest's source_file, stdout)
#   <RUNn>                  the UTC time that starts the n-th run's id (run folders, run_id columns, links)
#   <RUNn.started_at>       the run's start, to the second (printed on the landing page)
#   <RUNn.gx_time.FORMAT>   GX's run_time: .iso in its stored results, and each of GX_TIME_FORMATS
#   CHECKPOINT-<RUN_DATE>   GX's run name, which nianbao derives from the checkpoint and the run's UTC date
# How GX writes a run's run_time (one placeholder per format, so a changed format still shows).
GX_TIME_FORMATS = {
    "folder": "%Y%m%dT%H%M%S.%fZ",  # folder names in the result store and the site
    "breadcrumb": "%Y-%m-%dT%H:%M:%SZ",  # a validation page's breadcrumb
    "index": "%Y-%m-%d %H:%M:%S UTC",  # the run time column of GX's index page
}

# Random version-4 UUIDs, where GX writes them: in the collapse ids of every page it builds
# (`collapse-body-<uuid4>`) and in its store's id (`.ge_store_backend_id`, made once per store). Numbered
# by first appearance in each file, so ids that match must still match. (Each pattern starts with its
# literal context: a bare UUID pattern took 20 times as long over a bad night's pages.)
UUID4 = rb"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"
RANDOM_UUIDS = (
    re.compile(rb"(collapse-body-)(" + UUID4 + rb")"),
    re.compile(rb"(store_backend_id = )(" + UUID4 + rb")"),
)
# Regex rules applied after the literal tokens: (name, pattern, replacement).
REGEX_RULES = (
    # GX's batch marker ge_load_time (when it loaded a batch: wall clock, recorded by no run of ours), in
    # each stored validation result, and on each validation page in the table cell after its name.
    ("gx_load_time_json", re.compile(rb'"ge_load_time": "\d{8}T\d{6}\.\d{6}Z"'), b'"ge_load_time": "<GX_LOAD_TIME>"'),
    (
        "gx_load_time_page",
        re.compile(rb"(>ge_load_time</span>(?:(?!</tr>).){0,600}?>)\d{8}T\d{6}\.\d{6}Z<", re.S),
        rb"\1<GX_LOAD_TIME><",
    ),
    # The ingest summary's duration (`导入完成:共 4 个文件,用时 0.9 秒`).
    ("ingest_duration", re.compile("用时 \\d+(?:\\.\\d+)? 秒".encode()), "用时 <SECONDS> 秒".encode()),
)

# GX's stored results list at most engines.PARTIAL_IDS (20) failing rows of an expectation. Which ones,
# when more fail, is up to DuckDB's parallel scan (GX's query has no ORDER BY): two runs of the same code
# listed different report ids. In the result store, such a sample is replaced by its size, and a complete
# list is sorted. (nianbao's findings come from its own query over all rows and are compared in full.)
GX_SAMPLE_KEYS = ("partial_unexpected_index_list", "partial_unexpected_list", "partial_unexpected_counts")
GX_STORE_RESULTS = "gx-store/*.json"

# Arrow columns whose values are replaced (after the schema is compared) because they cannot be
# normalised as text: (glob of the file's key, column, why).
ARROW_VOLATILE_COLUMNS = (
    ("*", "ingested_at", "wall clock of the ingest, to the second (the demo's and the gate's reports tables)"),
    ("data/_ingest/changes.parquet", "changed_at", "wall clock of the ingest, to the second"),
    (
        "data/_ingest/state.parquet",
        "rows_sha256",
        "digest of a report's rows, which hold the tree's absolute source_file path; the rows themselves "
        "are compared in data/*/ingest.parquet",
    ),
)

DIFF_LINES = 20  # lines of diff shown per differing file
SHOWN_FILES = 30  # differing files shown per scenario on the terminal (all go to differences.txt)
PREVIEW = 160  # characters of a long line shown around its first difference


# --- steps and their timing --------------------------------------------------------------------------


class Clock:
    """Prints each step with its elapsed time and keeps them for the summary."""

    def __init__(self):
        self.start = time.perf_counter()
        self.steps: list[tuple[str, float]] = []

    def run(self, name: str, fn, *args, **kwargs):
        """fn(*args, **kwargs), timed and printed under name."""
        print(f"-> {name}", flush=True)
        t = time.perf_counter()
        result = fn(*args, **kwargs)
        elapsed = time.perf_counter() - t
        self.steps.append((name, elapsed))
        print(f"   {elapsed:7.1f} s  {name}", flush=True)
        return result


class SetupError(RuntimeError):
    """The comparison cannot run (bad revision, wrong code imported, data changed under the runs)."""


# --- the two trees -----------------------------------------------------------------------------------


@dataclass
class CommandResult:
    """One `nianbao` command of a scenario, as it ended."""

    args: list[str]
    exit_code: int
    stdout: str


@dataclass
class Side:
    """One tree (baseline or after), the runs it made so far and its commands' results."""

    name: str
    tree: Path
    runs: list[str] = field(default_factory=list)
    results: dict[str, list[CommandResult]] = field(default_factory=dict)
    new_runs: dict[str, list[str]] = field(default_factory=dict)


def git(repo: Path, *args: str) -> str:
    """Output of a read-only git command in repo."""
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, text=True).stdout


def repo_root() -> Path:
    """The repository this script lives in."""
    return Path(git(SCRIPT_DIR, "rev-parse", "--show-toplevel").strip())


def resolve_rev(repo: Path, rev: str) -> str:
    """Full commit hash of rev; SetupError when it names no commit."""
    try:
        return git(repo, "rev-parse", "--verify", "--end-of-options", rev + "^{commit}").strip()
    except subprocess.CalledProcessError as exc:
        raise SetupError(f"{rev!r} is not a commit of {repo}: {exc.stderr.strip()}") from exc


def extract_commit(repo: Path, commit: str, dest: Path) -> None:
    """Write the files of commit into dest (git archive | tar -x: the repository is not touched)."""
    dest.mkdir(parents=True)
    archive = subprocess.Popen(["git", "-C", str(repo), "archive", "--format=tar", commit], stdout=subprocess.PIPE)
    subprocess.run(["tar", "-x", "-C", str(dest)], stdin=archive.stdout, check=True)
    archive.stdout.close()
    if archive.wait() != 0:
        raise SetupError(f"git archive {commit} failed")


def copy_working_tree(source: Path, dest: Path) -> int:
    """Copy the files git lists in source (tracked and untracked, not ignored) into dest; the count copied."""
    listed = git(source, "ls-files", "-z", "--cached", "--others", "--exclude-standard").split("\0")
    copied = 0
    for rel in sorted(set(filter(None, listed))):
        src = source / rel
        # A tracked file deleted in the working tree is gone from it; what runs wrote is never copied.
        if not (src.exists() or src.is_symlink()) or any(fnmatch.fnmatch(rel, g) for g in NOT_COPIED):
            continue
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        if src.is_symlink():
            os.symlink(os.readlink(src), target)
        elif src.is_file():
            shutil.copy2(src, target)
        else:
            continue
        copied += 1
    return copied


def lay_out(args, repo: Path, work: Path, clock: Clock) -> list[Side]:
    """Baseline and after trees in work/baseline and work/after."""
    baseline = Side("baseline", work / "baseline")
    after = Side("after", work / "after")
    commit = resolve_rev(repo, args.baseline)
    clock.run(
        f"baseline tree: git archive {commit[:12]} ({args.baseline})", extract_commit, repo, commit, baseline.tree
    )
    if args.after:
        commit = resolve_rev(repo, args.after)
        clock.run(f"after tree: git archive {commit[:12]} ({args.after})", extract_commit, repo, commit, after.tree)
    else:
        source = Path(args.after_tree or repo).resolve()
        after.tree.mkdir(parents=True)
        n = clock.run(f"after tree: working tree of {source}", copy_working_tree, source, after.tree)
        print(f"   {n} files copied")
    return [baseline, after]


# --- running the code of a tree ------------------------------------------------------------------------


def tree_env(tree: Path) -> dict[str, str]:
    """Environment in which a tree's own code runs on its own copy."""
    # Inherited NIANBAO_* settings (crash hooks, limits) would steer both runs away from their defaults.
    env = {k: v for k, v in os.environ.items() if not k.startswith("NIANBAO_")}
    env.update(NIANBAO_ROOT=str(tree), PYTHONPATH=f"{tree}/src:{tree}/plugins", GX_ANALYTICS_ENABLED="false")
    return env


def verify_imports(side: Side) -> None:
    """Fail unless `import nianbao, nianbao_plugins` in the tree's environment loads the tree's code."""
    probe = "import nianbao, nianbao_plugins; print(nianbao.__file__, nianbao_plugins.__file__)"
    out = subprocess.run(
        [sys.executable, "-c", probe], cwd=side.tree, env=tree_env(side.tree), capture_output=True, text=True
    )
    files = out.stdout.split()
    expected = (side.tree / "src" / "nianbao", side.tree / "plugins" / "nianbao_plugins")
    if (
        out.returncode != 0
        or len(files) != 2
        or not all(Path(f).resolve().is_relative_to(e.resolve()) for f, e in zip(files, expected))
    ):
        raise SetupError(
            f"{side.name}: the code imported is not the tree's own ({side.tree}):\n{out.stdout}{out.stderr}"
        )
    print(f"   {side.name} imports {files[0]} and {files[1]}")


def run_dirs(tree: Path) -> list[str]:
    """Completed or failed run folders of a tree, oldest first (a run id starts with its UTC time)."""
    runs = tree / "uncommitted" / "runs"
    if not runs.is_dir():
        return []
    return sorted(
        d.name
        for d in runs.iterdir()
        if d.is_dir() and not d.is_symlink() and not d.name.startswith(".") and not d.name.endswith(".partial")
    )


def run_command(side: Side, scenario: str, index: int, args: list[str], logs: Path) -> CommandResult:
    """Run `python -m nianbao ARGS` in the tree; stdout and stderr are kept in logs/."""
    cmd = [sys.executable, "-m", "nianbao", *args]
    out = subprocess.run(cmd, cwd=side.tree, env=tree_env(side.tree), capture_output=True, text=True)
    stem = logs / f"{side.name}-{scenario}-{index}"
    stem.with_suffix(".stdout").write_text(out.stdout, encoding="utf-8")
    stem.with_suffix(".stderr").write_text(out.stderr, encoding="utf-8")
    print(f"   exit {out.returncode}; stderr in {stem}.stderr")
    return CommandResult(args, out.returncode, out.stdout)


# A reader holds the data folder's readers lock (shared) while it reads: an empty lock file, not data.
READERS_LOCK = "_ingest/readers.lock"


def folder_state(folder: Path) -> list[tuple[str, int, int]]:
    """(path, size, mtime) of every file under folder: to show that a run left shared data alone."""
    return sorted(
        (str(p.relative_to(folder)), p.stat().st_size, p.stat().st_mtime_ns)
        for p in folder.rglob("*")
        if p.is_file() and p.relative_to(folder).as_posix() != READERS_LOCK
    )


@dataclass
class Scenario:
    """Commands run in each tree, then compared together."""

    name: str
    commands: list[list[str]]
    groups: tuple[str, ...]  # what to compare afterwards (see collect())
    shared_data: Path | None = None  # data both sides read: must not change


def run_scenario(side: Side, scenario: Scenario, logs: Path, clock: Clock) -> None:
    """Run a scenario's commands in one tree and note the run folders they made."""
    before = set(run_dirs(side.tree))
    state = folder_state(scenario.shared_data) if scenario.shared_data else None
    side.results[scenario.name] = []
    for i, args in enumerate(scenario.commands, 1):
        label = f"{side.name} {scenario.name}: nianbao {' '.join(args)}"
        side.results[scenario.name].append(clock.run(label, run_command, side, scenario.name, i, args, logs))
    if state is not None and folder_state(scenario.shared_data) != state:
        raise SetupError(f"{side.name} changed the shared data folder {scenario.shared_data}")
    side.new_runs[scenario.name] = [r for r in run_dirs(side.tree) if r not in before]
    side.runs += side.new_runs[scenario.name]


def gate_args(baseline: Path) -> list[str]:
    """`gate data/inbox/GATE_FILE` with the options the baseline's manifest gives for that file."""
    with open(baseline / "data" / "inbox" / "manifest.csv", encoding="utf-8", newline="") as fh:
        row = next((r for r in csv.DictReader(fh) if r["file"] == GATE_FILE), None)
    if row is None:
        raise SetupError(f"{GATE_FILE} is not in the baseline's data/inbox/manifest.csv")
    args = ["gate", f"data/inbox/{GATE_FILE}"]
    for key in GATE_OPTIONS:
        if row.get(key):
            args += [f"--{key}", row[key]]
    return args


def scenarios(args, baseline: Side, work: Path, logs: Path, clock: Clock) -> list[Scenario]:
    """The scenarios to run; makes the bad night's data (with the baseline's code) when asked for."""
    found = [Scenario("demo", [["demo"], ["run", "nightly"]], ("runs", "pointer", "site", "gx-store", "ingest"))]
    if args.bad_night > 0:
        bad = work / "bad"
        synth = ["synth", "--reports", str(args.bad_night), "--out", str(bad), *BAD_NIGHT_SYNTH]
        result = clock.run(
            f"bad-night data: nianbao {' '.join(synth)} (baseline's code)",
            run_command,
            baseline,
            "synth",
            0,
            synth,
            logs,
        )
        if result.exit_code != 0:
            raise SetupError(f"synth failed with exit code {result.exit_code}; see {logs}")
        found.append(
            Scenario(
                "bad-night",
                [["run", "nightly", "--data", str(bad)]],
                ("runs", "pointer", "site", "gx-store"),
                shared_data=bad,
            )
        )
    # The gate keeps its site in its run folder and leaves the shared site and GX's store as they were.
    found.append(Scenario("gate", [gate_args(baseline.tree)], ("runs", "pointer", "site-link", "gx-store")))
    return found


# --- normalisation -----------------------------------------------------------------------------------


@dataclass
class Normaliser:
    """A side's volatile literals (longest first) followed by the regex rules."""

    literals: list[tuple[bytes, bytes]]

    def __call__(self, data: bytes) -> bytes:
        for old, new in self.literals:
            data = data.replace(old, new)
        for _name, pattern, replacement in REGEX_RULES:
            data = pattern.sub(replacement, data)
        return number_uuids(data)

    def text(self, value: str) -> str:
        """The rules applied to a str."""
        return self(value.encode("utf-8")).decode("utf-8")


def number_uuids(data: bytes) -> bytes:
    """GX's random UUIDs replaced by <UUID1>, <UUID2>, ... in order of first appearance."""
    seen: dict[bytes, bytes] = {}

    def number(m: re.Match) -> bytes:
        return m.group(1) + seen.setdefault(m.group(2), b"<UUID%d>" % (len(seen) + 1))

    for pattern in RANDOM_UUIDS:
        data = pattern.sub(number, data)
    return data


def run_tokens(n: int, doc: dict) -> list[tuple[str, str]]:
    """Volatile literals of the n-th run of a side, from its run_results.json."""
    stamp, _, checkpoint = doc["run_id"].partition("-")
    tokens = [(stamp, f"<RUN{n}>")]  # the run id's UTC time; the checkpoint name stays
    if doc.get("started_at"):
        tokens.append((doc["started_at"], f"<RUN{n}.started_at>"))  # printed on the landing page
    gx = doc.get("gx") or {}
    if gx.get("run_time"):
        when = datetime.fromisoformat(gx["run_time"])
        tokens.append((when.isoformat(), f"<RUN{n}.gx_time.iso>"))  # GX's stored results
        tokens += [(when.strftime(fmt), f"<RUN{n}.gx_time.{name}>") for name, fmt in GX_TIME_FORMATS.items()]
    if gx.get("run_name"):
        # nianbao names GX's run after the checkpoint and the run's UTC date; runs of one day share it.
        derived = gx["run_name"] == f"{checkpoint}-{stamp[:8]}"
        tokens.append((gx["run_name"], f"{checkpoint}-<RUN_DATE>" if derived else f"<RUN{n}.gx_run_name>"))
    return tokens


def normaliser(side: Side) -> Normaliser:
    """Literals of every run the side made so far (its site lists earlier runs too) and of its tree path."""
    tokens = [(str(side.tree), "<TREE>")]  # the work folder is resolved: runs print this very path
    for n, run in enumerate(side.runs, 1):
        record = side.tree / "uncommitted" / "runs" / run / "run_results.json"
        # A run killed before it wrote its record still has its id: the folder's name.
        doc = json.loads(record.read_text(encoding="utf-8")) if record.is_file() else {"run_id": run}
        tokens += run_tokens(n, doc)
    literals: dict[bytes, bytes] = {}
    for old, new in tokens:
        literals.setdefault(old.encode("utf-8"), new.encode("utf-8"))  # the first run to print a token names it
    return Normaliser(sorted(literals.items(), key=lambda kv: -len(kv[0])))


def drop_keys(doc: dict) -> dict:
    """run_results.json without VOLATILE_KEYS."""
    for path in VOLATILE_KEYS:
        node = doc
        for key in path[:-1]:
            node = node.get(key) if isinstance(node, dict) else None
        if isinstance(node, dict):
            node.pop(path[-1], None)
    return doc


# --- what a scenario wrote -------------------------------------------------------------------------------


def walk(root: Path, prefix: str, out: dict[str, Path]) -> None:
    """Every file and symlink under root, keyed prefix/relative path (symlinks are not followed)."""
    folders = [(str(root), prefix)]
    while folders:
        folder, key = folders.pop()
        with os.scandir(folder) as entries:  # DirEntry answers from the listing: no stat per file
            for entry in entries:
                if entry.is_symlink() or entry.is_file():
                    out[f"{key}/{entry.name}"] = Path(entry.path)
                elif entry.is_dir():
                    folders.append((entry.path, f"{key}/{entry.name}"))


def collect(side: Side, scenario: Scenario) -> dict[str, Path]:
    """Raw key -> path of everything the scenario's groups cover in one tree."""
    u = side.tree / "uncommitted"
    out: dict[str, Path] = {}
    if "runs" in scenario.groups:
        for run in side.new_runs[scenario.name]:
            walk(u / "runs" / run, f"runs/{run}", out)
    if "pointer" in scenario.groups:
        for name in ("latest", "latest.json"):
            if (u / "runs" / name).exists() or (u / "runs" / name).is_symlink():
                out[f"runs/{name}"] = u / "runs" / name
    site = u / "data_docs" / "local_site"
    if "site" in scenario.groups or "site-link" in scenario.groups:
        out["site"] = site  # the symlink a nightly run swaps in: which build is the site
    if "site" in scenario.groups:
        walk(site.resolve(), "site", out)
    if "gx-store" in scenario.groups:
        walk(u / "validations", "gx-store", out)
    if "ingest" in scenario.groups:
        for path in sorted((side.tree / "data").rglob("*")):
            rel = path.relative_to(side.tree).as_posix()
            if path.is_file() and any(fnmatch.fnmatch(rel, g) for g in INGEST_OUTPUTS):
                out[rel] = path
    return out


# --- comparing ------------------------------------------------------------------------------------------


def clip(line: str, at: int) -> str:
    """A long line shortened to PREVIEW characters around position at."""
    if len(line) <= PREVIEW:
        return line
    start = max(0, min(at - PREVIEW // 2, len(line) - PREVIEW))
    return ("…" if start else "") + line[start : start + PREVIEW] + ("…" if start + PREVIEW < len(line) else "")


def first_difference(a, b) -> int:
    """Index of the first item (character, line) where a and b differ."""
    return next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))


def partner(lines: list[str], i: int) -> str:
    """The line a removed (added) diff line most likely became (came from): the nearest added (removed) one."""
    sign = lines[i][:1]
    if sign == "-":
        return next((x for x in lines[i + 1 : i + 4] if x[:1] == "+"), "")
    if sign == "+":
        return next((x for x in reversed(lines[max(0, i - 3) : i]) if x[:1] == "-"), "")
    return ""


def text_diff(a: str, b: str) -> list[str]:
    """The first DIFF_LINES lines of a unified diff, long lines clipped around their first difference."""
    la, lb = a.splitlines(), b.splitlines()
    if max(len(la), len(lb)) > 20000:  # difflib can take minutes there: show the first differing line
        i = first_difference(la, lb)
        x, y = (la[i] if i < len(la) else ""), (lb[i] if i < len(lb) else "")
        at = first_difference(x, y)
        return [
            f"first difference at line {i + 1} ({len(la)} vs {len(lb)} lines)",
            "-" + clip(x, at),
            "+" + clip(y, at),
        ]
    lines = list(difflib.unified_diff(la, lb, "baseline", "after", n=1, lineterm=""))
    shown = []
    for i, line in enumerate(lines[:DIFF_LINES]):
        other = partner(lines, i)
        shown.append(line[:1] + clip(line[1:], first_difference(line[1:], other[1:]) if other else 0))
    return shown + ([f"… {len(lines) - DIFF_LINES} more diff lines"] if len(lines) > DIFF_LINES else [])


def volatile_columns(key: str) -> dict[str, str]:
    """Column -> why, for the ARROW_VOLATILE_COLUMNS that apply to a file."""
    return {col: why for glob, col, why in ARROW_VOLATILE_COLUMNS if fnmatch.fnmatch(key, glob)}


def normalise_column(column: pa.ChunkedArray, norm: Normaliser, volatile: bool) -> pa.ChunkedArray | pa.Array:
    """A column with its volatile values replaced: whole values, or the text rules on strings."""
    if volatile:  # only whether a value is there is compared
        return pc.if_else(pc.is_valid(column), pa.scalar("<VOLATILE>"), pa.scalar(None, pa.string()))
    if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
        # The rules run once per distinct value: a bad night's run id column holds 300,000 copies of one.
        encoded = column.combine_chunks().dictionary_encode()
        values = pa.array([norm.text(v) for v in encoded.dictionary.to_pylist()], column.type)
        return values.take(encoded.indices)
    return column


def row_texts(table: pa.Table) -> list[str]:
    """Each row as one line of JSON."""
    return [json.dumps(r, ensure_ascii=False, default=str, sort_keys=True) for r in table.to_pylist()]


def rows_diff(a: pa.Table, b: pa.Table) -> list[str] | None:
    """None when the rows are the same (NaN equals NaN here, not in Arrow's equals), else the first that differ."""
    ra, rb = row_texts(a), row_texts(b)
    n = max(len(ra), len(rb))
    differing = [i for i in range(n) if (ra[i] if i < len(ra) else None) != (rb[i] if i < len(rb) else None)]
    if not differing:
        return None
    shown = [f"{len(differing)} of {n} rows differ ({a.num_rows} vs {b.num_rows} rows)"]
    for i in differing[: DIFF_LINES // 2]:
        x, y = (ra[i] if i < len(ra) else "(no row)"), (rb[i] if i < len(rb) else "(no row)")
        at = first_difference(x, y)
        shown += [f"-row {i}: {clip(x, at)}", f"+row {i}: {clip(y, at)}"]
    return shown


def compare_tables(key: str, a: pa.Table, b: pa.Table, na: Normaliser, nb: Normaliser) -> list[str] | None:
    """None when two Arrow tables are equal after normalisation, else lines showing the difference."""
    if not a.schema.equals(b.schema, check_metadata=True):
        return text_diff(a.schema.to_string(show_schema_metadata=True), b.schema.to_string(show_schema_metadata=True))
    volatile = volatile_columns(key)
    cols_a, cols_b = [], []
    for name in a.column_names:
        x, y = a[name], b[name]
        # Equal raw columns are equal normalised; only the others (run ids, paths) pay for the rules.
        if name not in volatile and x.equals(y):
            cols_a.append(x)
            cols_b.append(y)
        else:
            cols_a.append(normalise_column(x, na, name in volatile))
            cols_b.append(normalise_column(y, nb, name in volatile))
    a, b = pa.table(cols_a, names=a.column_names), pa.table(cols_b, names=b.column_names)
    return None if a.equals(b) else rows_diff(a, b)


def canonical_samples(node):
    """GX's result JSON with its samples of failing rows made comparable (see GX_SAMPLE_KEYS)."""
    if isinstance(node, list):
        return [canonical_samples(x) for x in node]
    if not isinstance(node, dict):
        return node
    node = {k: canonical_samples(v) for k, v in node.items()}
    count = node.get("unexpected_count")
    for key in GX_SAMPLE_KEYS:
        if isinstance(node.get(key), list) and isinstance(count, int):
            node[key] = canonical_sample(node[key], count)
    return node


def canonical_sample(sample: list, count: int):
    """A complete list of failing rows sorted; a partial one (the database chose which) as its size."""
    # With exclude_unexpected_values GX lists one {column: [values]} per column instead of one entry per row.
    if sample and all(isinstance(x, dict) and all(isinstance(v, list) for v in x.values()) for x in sample):
        return [{column: canonical_sample(values, count) for column, values in x.items()} for x in sample]
    if len(sample) >= count:
        return sorted(sample, key=lambda x: json.dumps(x, sort_keys=True))
    return f"<{len(sample)} of {count} failing rows>"


def dumps(doc) -> bytes:
    """JSON text in one canonical layout."""
    return (json.dumps(doc, ensure_ascii=False, indent=2, sort_keys=True) + "\n").encode("utf-8")


def content(key: str, path: Path) -> bytes:
    """A file's bytes as compared: JSON documents with their rules applied, symlinks as their target."""
    if path.is_symlink():
        return b"symlink -> " + os.readlink(path).encode("utf-8")
    data = path.read_bytes()
    if path.name == "run_results.json":
        return dumps(drop_keys(json.loads(data)))
    if fnmatch.fnmatch(key, GX_STORE_RESULTS):
        return dumps(canonical_samples(json.loads(data)))
    return data


def compare_file(key: str, pa_: Path, pb: Path, na: Normaliser, nb: Normaliser) -> list[str] | None:
    """None when two files are the same after normalisation, else lines showing the difference."""
    if pa_.suffix == ".parquet" and not pa_.is_symlink() and not pb.is_symlink():
        return compare_tables(key, pq.read_table(pa_), pq.read_table(pb), na, nb)
    a, b = content(key, pa_), content(key, pb)
    if a == b:  # the same bytes are the same output, whatever the rules would make of them
        return None
    a, b = na(a), nb(b)
    if a == b:
        return None
    try:
        return text_diff(a.decode("utf-8"), b.decode("utf-8"))
    except UnicodeDecodeError:
        return [
            f"binary: {len(a)} bytes sha256 {hashlib.sha256(a).hexdigest()[:16]} vs "
            f"{len(b)} bytes sha256 {hashlib.sha256(b).hexdigest()[:16]}"
        ]


def compare_pair(job: tuple[str, Path, Path], norms: list[Normaliser]) -> list[str] | None:
    """compare_file for one (key, baseline path, after path), as a worker process runs it."""
    try:
        return compare_file(*job, *norms)
    except Exception as exc:  # a file one side wrote broken (Parquet, JSON) is a difference, not a crash
        return [f"cannot compare: {type(exc).__name__}: {exc}"]


@dataclass
class Report:
    """What one scenario's comparison found."""

    scenario: str
    compared: int = 0
    identical: int = 0
    differing: list[tuple[str, bool, list[str]]] = field(default_factory=list)  # key, intended, lines
    exit_codes: list[str] = field(default_factory=list)  # mismatches (never intended)

    @property
    def failed(self) -> bool:
        """Whether an exit code or a file not covered by --allow differs."""
        return bool(self.exit_codes) or any(not intended for _, intended, _ in self.differing)


def compare_outputs(scenario: Scenario, sides: list[Side], allow: list[str]) -> Report:
    """Compare every file a scenario wrote in both trees, and its commands' stdout and exit codes."""
    report = Report(scenario.name)
    (base, after), norms = sides, [normaliser(s) for s in sides]
    files = [{norm.text(k): p for k, p in collect(s, scenario).items()} for s, norm in zip(sides, norms)]

    def record(key: str, lines: list[str] | None) -> None:
        report.compared += 1
        if lines is None:
            report.identical += 1
        else:
            report.differing.append((key, any(fnmatch.fnmatch(key, g) for g in allow), lines))

    for i, (ra, rb) in enumerate(zip(base.results[scenario.name], after.results[scenario.name]), 1):
        if ra.exit_code != rb.exit_code:
            report.exit_codes.append(f"nianbao {' '.join(ra.args)}: exit {ra.exit_code} vs {rb.exit_code}")
        sa, sb = norms[0].text(ra.stdout), norms[1].text(rb.stdout)
        record(f"stdout/{i}-{ra.args[0]}", None if sa == sb else text_diff(sa, sb))
    keys = sorted(files[0].keys() | files[1].keys())
    both = [(k, files[0][k], files[1][k]) for k in keys if k in files[0] and k in files[1]]
    # Every core: a bad night's site is some 40,000 pages a side.
    with ProcessPoolExecutor(os.cpu_count()) as pool:
        found = dict(zip((k for k, _, _ in both), pool.map(partial(compare_pair, norms=norms), both, chunksize=64)))
    for key in keys:
        record(key, found[key] if key in found else ["only in baseline" if key in files[0] else "only in after"])
    return report


def print_report(report: Report, out=sys.stdout, shown: int | None = None) -> None:
    """Counts, then each differing file with the start of its diff (the first `shown` files, or all)."""
    print(
        f"== {report.scenario}: {report.compared} files compared, {report.identical} identical, "
        f"{len(report.differing)} differing ({sum(i for _, i, _ in report.differing)} intended)",
        file=out,
    )
    for line in report.exit_codes:
        print(f"   EXIT CODE DIFFERS  {line}", file=out)
    for n, (key, intended, lines) in enumerate(report.differing):
        if shown is not None and n == shown:
            print(f"   … {len(report.differing) - shown} more differing files: see differences.txt", file=out)
            break
        print(f"   {'INTENDED' if intended else 'DIFFERS '}  {key}", file=out)
        for line in lines:
            print(f"      {line}", file=out)


# --- main ----------------------------------------------------------------------------------------------


def parse_args(argv=None) -> argparse.Namespace:
    """The command line."""
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--baseline", required=True, help="commit whose code and files are the reference")
    after = p.add_mutually_exclusive_group()
    after.add_argument("--after", help="commit to compare (default: the working tree of this repository)")
    after.add_argument("--after-tree", help="working tree to compare (its files git lists, not ignored ones)")
    p.add_argument(
        "--bad-night",
        type=int,
        default=100000,
        metavar="N",
        help="synthetic reports of the bad-night scenario (0 skips it; default 100000)",
    )
    p.add_argument("--workdir", help="folder for the trees, data and logs (default: a fresh temporary folder)")
    p.add_argument(
        "--allow",
        action="append",
        default=[],
        metavar="GLOB",
        help="files whose differences are intended, as globs of the keys printed (e.g. 'site/nianbao/*'); "
        "repeatable. Exit codes must match regardless",
    )
    p.add_argument("--keep", action="store_true", help="keep the temporary folder (a --workdir is always kept)")
    return p.parse_args(argv)


def work_folder(args) -> Path:
    """The work folder: fresh, or a given one without trees of an earlier comparison."""
    if not args.workdir:
        return Path(tempfile.mkdtemp(prefix="compare_outputs-")).resolve()
    work = Path(args.workdir).resolve()
    taken = [n for n in ("baseline", "after", "bad", "logs") if (work / n).exists()]
    if taken:
        raise SetupError(f"{work} already holds {', '.join(taken)}: give an empty or new folder")
    work.mkdir(parents=True, exist_ok=True)
    return work


def compare(args, work: Path, clock: Clock) -> list[Report]:
    """Lay out both trees, run every scenario in each and compare; one report per scenario."""
    logs = work / "logs"
    logs.mkdir()
    sides = lay_out(args, repo_root(), work, clock)
    for side in sides:
        clock.run(f"{side.name}: check that the tree's own code is imported", verify_imports, side)
    reports = []
    for scenario in scenarios(args, sides[0], work, logs, clock):
        for side in sides:
            run_scenario(side, scenario, logs, clock)
        report = clock.run(f"compare {scenario.name}", compare_outputs, scenario, sides, args.allow)
        print_report(report, shown=SHOWN_FILES)
        with open(work / "differences.txt", "a", encoding="utf-8") as fh:
            print_report(report, fh)
        reports.append(report)
    return reports


def main(argv=None) -> int:
    """Compare, print the summary and the times; the exit code."""
    args = parse_args(argv)
    clock = Clock()
    try:
        work = work_folder(args)
        print(f"work folder: {work}")
        reports = compare(args, work, clock)
    except (SetupError, subprocess.CalledProcessError) as exc:
        print(f"compare_outputs: cannot compare: {exc}", file=sys.stderr)
        return 2
    print("\n== summary")
    for r in reports:
        verdict = "DIFFERENT" if r.failed else "intended differences only" if r.differing else "identical"
        print(f"   {r.scenario:10} {r.compared:7} files, {r.identical:7} identical: {verdict}")
    print("   times:")
    for name, seconds in clock.steps:
        print(f"   {seconds:8.1f} s  {name}")
    print(f"   {time.perf_counter() - clock.start:8.1f} s  total")
    failed = any(r.failed for r in reports)
    if args.workdir or args.keep or failed:
        print(f"work folder kept: {work} (every difference in differences.txt)")
    else:
        # A run's detached `rm -rf` of old site builds may still be deleting in there.
        shutil.rmtree(work, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
