"""The suite files: generated from the rule catalogue, loaded whole by GX, catalogued from disk."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap
from argparse import Namespace
from collections import Counter

import pytest

from nianbao import rules as R
from nianbao import suites
from nianbao.context import get_context, suite_files
from nianbao.exitcodes import ExitCode
from nianbao.paths import EXPECTATIONS_DIR, ROOT

META_KEYS = {"rule_id", "description", "basis", "nianbao_severity", "columns"}


@pytest.fixture(scope="module")
def expected():
    return suites.expected_suites()


def test_files_on_disk_are_what_the_catalogue_generates(expected):
    on_disk = {p.name: p.read_text(encoding="utf-8") for p in EXPECTATIONS_DIR.glob("*.json")}
    assert on_disk == expected, "run `nianbao suites`"
    assert suites.CATALOGUE_PATH.read_text(encoding="utf-8") == suites.catalogue_page()


def test_generation_is_deterministic(expected):
    assert suites.expected_suites() == expected


def test_check_command_detects_drift(tmp_path, monkeypatch, capsys):
    shutil.copytree(EXPECTATIONS_DIR, tmp_path / "expectations")
    shutil.copy(suites.CATALOGUE_PATH, tmp_path / "catalogue.md")
    monkeypatch.setattr(suites, "EXPECTATIONS_DIR", tmp_path / "expectations")
    monkeypatch.setattr(suites, "CATALOGUE_PATH", tmp_path / "catalogue.md")
    assert suites.command(Namespace(check=True)) == ExitCode.OK
    path = tmp_path / "expectations" / "review_litigation.json"
    doc = json.loads(path.read_text(encoding="utf-8"))
    doc["expectations"][0]["kwargs"]["right"].pop()
    path.write_text(json.dumps(doc, ensure_ascii=False, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    assert suites.command(Namespace(check=True)) == ExitCode.CONFIG_ERROR
    assert "review_litigation.json" in capsys.readouterr().err
    assert suites.command(Namespace(check=False)) == ExitCode.OK
    assert suites.command(Namespace(check=True)) == ExitCode.OK


def test_suites_load_whole_through_the_context():
    ctx = get_context()
    for name, count in suite_files().items():
        assert len(ctx.suites.get(name).expectations) == count > 0, name


def test_suite_without_plugins_is_detected():
    """GX drops unregistered expectation types silently; verify_suites must refuse such a context."""
    code = textwrap.dedent(f"""
        import os, sys
        os.chdir({str(ROOT)!r})
        import great_expectations as gx
        from nianbao.context import ConfigurationError, verify_suites
        ctx = gx.get_context(mode="file", context_root_dir={str(ROOT)!r})
        assert "nianbao_plugins" not in sys.modules
        try:
            verify_suites(ctx)
        except ConfigurationError as e:
            print("DETECTED", e)
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert "DETECTED suite" in out.stdout, out.stdout + out.stderr
    assert "a custom expectation type is not registered" in out.stdout


def _expectations():
    for p in sorted(EXPECTATIONS_DIR.glob("*.json")):
        for exp in json.loads(p.read_text(encoding="utf-8"))["expectations"]:
            yield p.stem, exp


def test_every_expectation_names_its_rule():
    for suite, exp in _expectations():
        meta = exp["meta"]
        assert set(meta) == META_KEYS, (suite, meta)
        rule = R.RULES_BY_ID[meta["rule_id"]]
        assert exp["severity"] == R.GX_SEVERITY[rule.severity] and meta["nianbao_severity"] == rule.severity
        assert meta["description"] == rule.description and meta["basis"] == rule.basis
        assert meta["columns"] == list(rule.operands)


def test_a_2021_report_has_42_identities_plus_the_single_row_variant():
    families = Counter(e["meta"]["rule_id"].split(".")[0] for s, e in _expectations()
                       if s in ("applications_2021", "review_litigation") and e["type"] == "expect_row_identity")
    # R3 has 25 rows plus (六)其他处理 printed as one row; R7 (F <= N + B) is an inequality per column.
    assert families == {"R1": 7, "R2": 7, "R3": 26, "R4": 3, "R7": 7}


def test_one_expectation_per_rule_and_every_rule_in_a_suite():
    per_suite = Counter((s, e["meta"]["rule_id"]) for s, e in _expectations())
    assert max(per_suite.values()) == 1
    assert {rule for _, rule in per_suite} == set(R.RULES_BY_ID)


def test_catalogue_is_read_from_the_files(tmp_path):
    rows = suites.catalogue_rows()
    assert [r["rule_id"] for r in rows][:3] == ["R1.person", "R1.business", "R1.research"]
    assert len(rows) == len(R.RULES) == 67
    by_id = {r["rule_id"]: r for r in rows}
    assert by_id["R4.review"]["versions"] == [suites.ALL_VERSIONS]
    assert sorted(by_id["R1.total"]["versions"]) == ["2019", "2021"]
    assert by_id["R8.fees"]["versions"] == ["2019"] and by_id["R8.fees"]["severity"] == "warn"
    md = suites.catalogue_markdown()
    assert all(f"`{r.id}`" in md for r in R.RULES)
    # A file edited by hand shows up in the catalogue: the page says what the suites say.
    shutil.copytree(EXPECTATIONS_DIR, tmp_path / "e")
    path = tmp_path / "e" / "review_litigation.json"
    path.write_text(path.read_text(encoding="utf-8").replace("结果维持 + 结果纠正", "手改说明"), encoding="utf-8")
    assert "手改说明" in suites.catalogue_markdown(tmp_path / "e")


def test_data_docs_render_rule_id_and_description():
    import nianbao_plugins as P
    from great_expectations.expectations.expectation_configuration import ExpectationConfiguration

    _, exp = next((s, e) for s, e in _expectations() if e["meta"]["rule_id"] == "R4.review")
    config = ExpectationConfiguration(type=exp["type"], kwargs=exp["kwargs"], meta=exp["meta"])
    (content,) = P.ExpectRowIdentity._prescriptive_renderer(configuration=config)
    template = content.string_template
    assert template["params"] == {"rule_id": "R4.review", "description": exp["meta"]["description"]}
