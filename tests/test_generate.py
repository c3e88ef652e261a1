"""`nianbao generate [--check]`: one command for every committed generated file, run on a copy of the project."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from nianbao import engines, generate, kinds
from nianbao import rules as R

ROOT = Path(__file__).resolve().parents[1]
GENERATED = ("expectations", "checkpoints", "validation_definitions", "docs")


@pytest.fixture()
def project(tmp_path) -> Path:
    """The generated files and what they are generated into, copied to a project of their own."""
    for folder in GENERATED:
        shutil.copytree(ROOT / folder, tmp_path / folder)
    for name in ("great_expectations.yml", "README.md", "pyproject.toml"):
        shutil.copy(ROOT / name, tmp_path / name)
    return tmp_path


def _generate(project: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "NIANBAO_ROOT": str(project), "GX_ANALYTICS_ENABLED": "false"}
    return subprocess.run(
        [sys.executable, "-m", "nianbao", "generate", *args],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_committed_files_are_current():
    assert generate.stale_files() == []


def test_check_names_every_drifted_file_and_generate_repairs_it(project):
    assert _generate(project, "--check").returncode == 0
    suite = project / "expectations" / "review_litigation.json"
    doc = json.loads(suite.read_text(encoding="utf-8"))
    (r4,) = [e for e in doc["expectations"] if e["meta"]["check_id"] == "R4"]
    assert r4["kwargs"]["identities"][0]["right"].pop() == "review_pending"
    suite.write_text(json.dumps(doc, ensure_ascii=False, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    (project / "checkpoints" / "nightly__oracle.json").write_text("{}\n", encoding="utf-8")
    vd = project / "validation_definitions" / "applications_2021__pandas.json"
    vd.write_text(vd.read_text(encoding="utf-8").replace("nianbao_pandas", "nianbao_duckdb"), encoding="utf-8")
    yml = project / "great_expectations.yml"
    yml.write_text(
        yml.read_text(encoding="utf-8").replace("table_name: applications_2021", "table_name: applications"),
        encoding="utf-8",
    )
    done = _generate(project, "--check")
    assert done.returncode == 4
    for name in (
        "expectations/review_litigation.json",
        "checkpoints/nightly__oracle.json",
        "validation_definitions/applications_2021__pandas.json",
        "great_expectations.yml",
    ):
        assert name in done.stderr, done.stderr
    assert _generate(project).returncode == 0
    assert not (project / "checkpoints" / "nightly__oracle.json").exists()
    assert _generate(project, "--check").returncode == 0
    assert suite.read_bytes() == (ROOT / "expectations" / "review_litigation.json").read_bytes()


def test_readme_rule_sections_drift_is_caught(project):
    readme = project / "README.md"
    readme.write_text(
        readme.read_text(encoding="utf-8").replace("`R3.other` (26)", "`R3.other` (25)"), encoding="utf-8"
    )
    done = _generate(project, "--check")
    assert done.returncode == 4 and "README.md" in done.stderr


def test_one_checkpoint_and_validation_definitions_per_engine():
    names = {p.stem for p in (ROOT / "checkpoints").glob("*.json")}
    assert names == {engines.checkpoint_name(c, e) for c in engines.CHECKPOINTS for e in engines.ENGINES}
    for engine in engines.ENGINES:
        doc = json.loads((ROOT / "checkpoints" / f"{engines.checkpoint_name('nightly', engine)}.json").read_text())
        # nianbao's pages are no GX action: only GX's own docs are built by the checkpoint.
        assert [a["type"] for a in doc["actions"]] == ["update_data_docs_once"]
        assert len(doc["validation_definitions"]) == len(R.ALL_SUITES)  # the gate's: R.SUITES


def test_rule_kinds_page_lists_every_kind_with_its_files():
    page = (ROOT / generate.KINDS_DOC).read_text(encoding="utf-8")
    for name in kinds.registry():
        assert f"| `{name}` |" in page
        for path in kinds.files(name):
            assert (ROOT / path).is_file() and f"`{path}`" in page
