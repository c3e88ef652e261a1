"""The suite files: generated from the rule catalogue, loaded whole by GX, catalogued from disk."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap
from collections import Counter

import pytest

from nianbao import rules as R
from nianbao import suites
from nianbao.context import get_context, suite_files
from nianbao.paths import EXPECTATIONS_DIR, ROOT

META_KEYS = {"check_id", "description", "nianbao_severity", "rules"}
RULE_KEYS = {"rule_id", "description", "basis", "columns"}
# What the brief of the "few and wide" suites says each suite holds (24 expectations in all).
CHECKS = {
    "applications_2021": ["R1", "R2", "R3", "R5.applications", "R7", "R9.applications"],
    "applications_2019": ["R1", "R2", "R3", "R5.applications", "R7", "R9.applications"],
    "active_disclosure_2021": [
        "R5.active_disclosure",
        "R6.non_negative",
        "R6.magnitude",
        "R9.active_disclosure",
        "R10.rules",
    ],
    "active_disclosure_2019": ["R5.active_disclosure_2019", "R9.active_disclosure_2019", "R10.rules_2019", "R8"],
    "review_litigation": ["R4", "R5.review_litigation", "R9.review_litigation"],
    # Derived from two years' reports (nianbao.year_pairs): R11/R12 are identities, R11.previous a presence.
    "year_pairs": ["R11", "R11.previous", "R12"],
    # The text, parts and versions of each report (nianbao.report_text): one expectation per rule.
    "report_text": [
        "R17.applications",
        "R18.reviews",
        "R19.litigations",
        "R23.title",
        "R23.period_start",
        "R23.period_end",
        "R24.sections",
        "R24.tables",
        "R25.format",
        "R27.five",
        "R30.previous_year",
        "R30.same_year",
        "R31.versions",
    ],
}
IDENTITY_KINDS = ("identity", "cross_year")  # the kinds whose checks are expect_row_identities


@pytest.fixture(scope="module")
def expected():
    return suites.expected_suites()


def test_files_on_disk_are_what_the_catalogue_generates(expected):
    on_disk = {p.name: p.read_text(encoding="utf-8") for p in EXPECTATIONS_DIR.glob("*.json")}
    assert on_disk == expected, "run `nianbao generate`"
    assert suites.CATALOGUE_PATH.read_text(encoding="utf-8") == suites.catalogue_page()


def test_generation_is_deterministic(expected):
    assert suites.expected_suites() == expected


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


def _identity(rule: R.Rule) -> dict:
    out = {"rule_id": rule.id, "left": list(rule.left), "right": list(rule.right), "op": rule.op}
    if rule.alt_group:
        out.update(alt_group=list(rule.alt_group), alt_column=rule.alt_column)
    return out


def test_every_expectation_names_its_rules():
    """meta: the check id, severity, description and every rule it verifies, as in rules.py; the
    kwargs verify exactly those rules."""
    checks = {(s, c.id): c for s in R.ALL_SUITES for c in R.checks_for_suite(s)}
    for suite, exp in _expectations():
        meta = exp["meta"]
        assert set(meta) == META_KEYS, (suite, meta)
        check = checks[(suite, meta["check_id"])]
        assert [r["rule_id"] for r in meta["rules"]] == [r.id for r in check.rules], (suite, meta["check_id"])
        assert exp["severity"] == R.GX_SEVERITY[check.severity] and meta["nianbao_severity"] == check.severity
        assert meta["description"] == check.description
        for entry, rule in zip(meta["rules"], check.rules):
            assert set(entry) == RULE_KEYS, entry
            assert rule.severity == check.severity, rule.id
            assert entry["description"] == rule.description and entry["basis"] == rule.basis, rule.id
            assert entry["columns"] == list(rule.operands), rule.id
        kwargs = exp["kwargs"]
        if check.kind in IDENTITY_KINDS:
            assert exp["type"] == "expect_row_identities"
            assert kwargs["identities"] == [_identity(r) for r in check.rules]
            assert set(kwargs["column_list"]) == {c for r in check.rules for c in r.operands}
        else:
            (rule,) = check.rules
            assert check.id == rule.id
            # column_list, column, or a pair (column_A, column_B): the text's number and the tables'
            columns = kwargs.get("column_list") or [
                kwargs[k] for k in ("column", "column_A", "column_B") if k in kwargs
            ]
            assert set(columns) >= set(rule.columns), rule.id
            assert set(columns) <= {*rule.operands, rule.params.get("level_column")}, rule.id


def test_a_2021_report_has_42_identities_plus_the_single_row_variant():
    """One expectation per identity family in a suite, holding every identity of the family."""
    families, expectations = Counter(), Counter()
    for s, e in _expectations():
        if s in ("applications_2021", "review_litigation") and e["type"] == "expect_row_identities":
            expectations[e["meta"]["check_id"]] += 1
            families.update(i["rule_id"].split(".")[0] for i in e["kwargs"]["identities"])
            assert {i["rule_id"].split(".")[0] for i in e["kwargs"]["identities"]} == {e["meta"]["check_id"]}
    # R3 has 25 rows plus (六)其他处理 printed as one row; R7 (F <= N + B) is an inequality per column.
    assert families == {"R1": 7, "R2": 7, "R3": 26, "R4": 3, "R7": 7}
    assert expectations == {"R1": 1, "R2": 1, "R3": 1, "R4": 1, "R7": 1}


def test_every_rule_in_exactly_one_expectation_of_each_suite_that_holds_it():
    per_suite = Counter((s, r["rule_id"]) for s, e in _expectations() for r in e["meta"]["rules"])
    assert max(per_suite.values()) == 1
    assert {rule for _, rule in per_suite} == set(R.RULES_BY_ID)
    for suite in R.ALL_SUITES:
        assert {r for s, r in per_suite if s == suite} == {r.id for r in R.rules_for_suite(suite)}, suite
    # Identity rules ride in their family's expectation, the others in their own.
    for _, e in _expectations():
        for r in e["meta"]["rules"]:
            rule = R.RULES_BY_ID[r["rule_id"]]
            assert e["meta"]["check_id"] == (rule.family if rule.kind in IDENTITY_KINDS else rule.id)


def test_few_and_wide_suites():
    found = {}
    for s, e in _expectations():
        found.setdefault(s, []).append(e["meta"]["check_id"])
    assert {s: sorted(c) for s, c in found.items()} == {s: sorted(c) for s, c in CHECKS.items()}
    assert sum(map(len, found.values())) == 40
    assert {s: [c.id for c in R.checks_for_suite(s)] for s in R.ALL_SUITES} == {s: found[s] for s in R.ALL_SUITES}


def test_catalogue_is_read_from_the_files(tmp_path):
    rows = suites.catalogue_rows()
    assert [r["rule_id"] for r in rows][:3] == ["R1.person", "R1.business", "R1.research"]
    assert len(rows) == len(R.RULES) == 90
    by_id = {r["rule_id"]: r for r in rows}
    assert by_id["R4.review"]["versions"] == [suites.ALL_VERSIONS]
    assert sorted(by_id["R1.total"]["versions"]) == ["2019", "2021"]
    assert by_id["R8.fees"]["versions"] == ["2019"] and by_id["R8.fees"]["severity"] == "warn"
    assert by_id["R8.fees"]["check_id"] == "R8" and by_id["R8.fees"]["expectation_type"] == "expect_row_identities"
    assert by_id["R6.magnitude"]["check_id"] == "R6.magnitude"
    assert by_id["R6.magnitude"]["expectation_type"] == "expect_column_values_to_be_between"
    assert all(
        r["check_id"]
        == (R.RULES_BY_ID[r["rule_id"]].family if R.RULES_BY_ID[r["rule_id"]].kind in IDENTITY_KINDS else r["rule_id"])
        for r in rows
    )
    md = suites.catalogue_markdown()
    assert all(f"`{r.id}`" in md for r in R.RULES)
    # A file edited by hand shows up in the catalogue: the page says what the suites say.
    shutil.copytree(EXPECTATIONS_DIR, tmp_path / "e")
    path = tmp_path / "e" / "review_litigation.json"
    path.write_text(path.read_text(encoding="utf-8").replace("结果维持 + 结果纠正", "手改说明"), encoding="utf-8")
    assert "手改说明" in suites.catalogue_markdown(tmp_path / "e")


def test_data_docs_render_check_id_and_description():
    from great_expectations.expectations.expectation_configuration import ExpectationConfiguration

    import nianbao_plugins  # noqa: F401  registers the kinds' expectations
    from nianbao.kinds.identity.gx import ExpectRowIdentities

    _, exp = next((s, e) for s, e in _expectations() if e["meta"]["check_id"] == "R4")
    config = ExpectationConfiguration(type=exp["type"], kwargs=exp["kwargs"], meta=exp["meta"])
    (content,) = ExpectRowIdentities._prescriptive_renderer(configuration=config)
    template = content.string_template
    assert template["template"] == "$check_id $description"
    assert template["params"] == {"check_id": "R4", "description": exp["meta"]["description"]}
    assert exp["meta"]["description"] == "复议诉讼合计:3 条规则(R4.review 至 R4.litigation_after_review)"


# --- The expectation-kwargs speed-up (nianbao_plugins.compat.apply_configuration_fix) -------------

_KWARGS_PROBE = textwrap.dedent("""
    import importlib.util, json, sys
    from pathlib import Path

    root = Path(sys.argv[1])
    from great_expectations.expectations.expectation import Expectation
    assert "nianbao_plugins" not in sys.modules
    NAMES = ("_get_domain_kwargs", "_get_success_kwargs", "_get_runtime_kwargs")
    original = {n: Expectation.__dict__[n] for n in NAMES}        # GX 1.24.1's own functions

    # compat.py alone (the package applies the fix on import): another GX version is refused
    # before anything is patched.
    spec = importlib.util.spec_from_file_location("compat_alone", root / "plugins" / "nianbao_plugins" / "compat.py")
    compat = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(compat)
    try:
        compat.apply_configuration_fix(version="1.25.0")
        refused = None
    except compat.IncompatibleGXVersion as exc:
        refused = str(exc)
    untouched = all(Expectation.__dict__[n] is f for n, f in original.items())

    from great_expectations.expectations.expectation_configuration import ExpectationConfiguration
    from nianbao import engines
    from nianbao.context import get_context

    ctx = get_context()                                            # imports nianbao_plugins: the fix
    fixed = {n: Expectation.__dict__[n] for n in NAMES}
    expectations = [
        (s, e.meta["check_id"], e) for s in sorted(engines.R.ALL_SUITES) for e in ctx.suites.get(s).expectations
    ]
    # The same expectations with a non-default success kwarg.
    expectations += [(s, c + "+mostly", ExpectationConfiguration(
        type=e.expectation_type, kwargs={**e.configuration.kwargs, "mostly": 0.5}, meta=e.meta).to_domain_obj())
        for s, c, e in expectations]
    runtime = [None, {}, {"result_format": "BOOLEAN_ONLY"}, {"result_format": "SUMMARY", "catch_exceptions": True},
               {"result_format": engines.RESULT_FORMAT},
               {"result_format": {**engines.RESULT_FORMAT, "result_format": "COMPLETE"}, "include_config": False}]
    # Every class resolves the three methods to Expectation's (no subclass override hides the fix).
    overridden = sorted({f"{type(e).__name__}.{n}" for _, _, e in expectations for n in NAMES
                         for cls in type(e).__mro__[:type(e).__mro__.index(Expectation)] if n in cls.__dict__})

    def calls(functions):
        for n, f in functions.items():
            setattr(Expectation, n, f)
        out = {}
        for s, c, e in expectations:
            out[(s, c, "domain")] = e._get_domain_kwargs()
            out[(s, c, "success")] = e._get_success_kwargs()
            for i, rc in enumerate(runtime):
                out[(s, c, f"runtime{i}")] = e._get_runtime_kwargs(runtime_configuration=rc)
        return out

    gx_says, fix_says = calls(original), calls(fixed)
    mismatches = [[*k, repr(gx_says[k]), repr(fix_says.get(k))] for k in gx_says if gx_says[k] != fix_says.get(k)]
    print("RESULT " + json.dumps({
        "refused": refused, "untouched_after_refusal": untouched,
        "replaced": {n: fixed[n] is not original[n] for n in NAMES},
        "fix_is_compat": [f.__module__ for f in fixed.values()],
        "expectations": len(expectations), "compared": len(gx_says), "mismatches": mismatches,
        "overridden": overridden, "checks": sorted({c for _, c, _ in expectations}),
        "sample": repr(gx_says[("review_litigation", "R4", "runtime4")])}, ensure_ascii=False))
""")


def test_kwargs_fix_returns_what_gx_returns():
    """For every expectation of the suites (and each with a non-default `mostly`), the replaced
    _get_domain_kwargs/_get_success_kwargs/_get_runtime_kwargs return what GX 1.24.1's own return,
    read from Expectation.__dict__ in a process that had not imported nianbao_plugins yet."""
    out = subprocess.run(
        [sys.executable, "-c", _KWARGS_PROBE, str(ROOT)], capture_output=True, text=True, timeout=300, cwd=ROOT
    )
    line = next((x for x in out.stdout.splitlines() if x.startswith("RESULT ")), None)
    assert line, out.stdout[-3000:] + out.stderr[-3000:]
    got = json.loads(line[len("RESULT ") :])
    assert got["refused"] and "1.24.1" in got["refused"] and "1.25.0" in got["refused"]
    assert got["untouched_after_refusal"] is True
    assert got["replaced"] == {"_get_domain_kwargs": True, "_get_success_kwargs": True, "_get_runtime_kwargs": True}
    assert set(got["fix_is_compat"]) == {"nianbao_plugins.compat"}
    assert got["overridden"] == []
    assert got["expectations"] == 2 * 40 and got["compared"] == 2 * 40 * (2 + 6)
    assert len(got["checks"]) == 2 * len({c for cs in CHECKS.values() for c in cs})
    assert got["mismatches"] == []
    # The comparison is of real kwargs: the identities and the production result format.
    assert "'identities'" in got["sample"] and "'unexpected_index_column_names': ['report_id']" in got["sample"]


def test_kwargs_fix_refuses_other_gx_versions():
    from nianbao_plugins import compat

    assert compat.configuration_fix_applied()
    with pytest.raises(compat.IncompatibleGXVersion, match=r"1\.24\.1"):
        compat.apply_configuration_fix(version="1.25.0")
    assert compat.configuration_fix_applied()
