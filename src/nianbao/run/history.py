"""Run history: which earlier run a run compares with, and which run is the latest.

A run compares its findings with the newest completed run of the same scope (checkpoint, data
folder, selection): findings are new or persisting, and the previous ones now gone are resolved.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from .. import paths


def scope(checkpoint: str, data_key: str, selection_tokens: list[str]) -> dict:
    """What makes two runs comparable."""
    return {"checkpoint": checkpoint, "data": data_key, "select": selection_tokens}


def data_key(data: Path) -> str:
    """The data folder as history compares it: relative to the root when inside it (data/ by default)."""
    try:
        return data.resolve().relative_to(paths.ROOT.resolve()).as_posix()
    except ValueError:
        return str(data.resolve())


def previous_run(run_scope: dict) -> Path | None:
    """The newest completed run with the same checkpoint, data and selection."""
    if not paths.RUNS_DIR.is_dir():
        return None
    for d in sorted(paths.RUNS_DIR.iterdir(), reverse=True):
        f = d / "run_results.json"
        if d.is_symlink() or d.name.endswith(".partial") or not f.is_file():
            continue
        try:
            doc = json.loads(f.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if doc.get("scope") == run_scope and doc.get("completed") and (d / "findings.parquet").is_file():
            return d
    return None


def latest_run() -> Path | None:
    """The latest completed run folder (uncommitted/runs/latest.json)."""
    pointer = paths.RUNS_DIR / "latest.json"
    if not pointer.is_file():
        return None
    return paths.RUNS_DIR / json.loads(pointer.read_text(encoding="utf-8"))["run_id"]


def point_latest(run_id: str) -> None:
    """Move runs/latest (symlink) and runs/latest.json to run_id, each in one os.replace."""
    tmp = paths.RUNS_DIR / f".latest.{run_id}"
    os.symlink(run_id, tmp)
    os.replace(tmp, paths.RUNS_DIR / "latest")
    doc = paths.RUNS_DIR / f".latest.{run_id}.json"
    doc.write_text(
        json.dumps({"run_id": run_id, "path": str(paths.RUNS_DIR / run_id)}, ensure_ascii=False) + "\n",
        encoding="utf-8",
    )
    os.replace(doc, paths.RUNS_DIR / "latest.json")
