"""The whole report: text against the tables (R17–R19), year and period (R23), six parts and three tables
(R24–R25), an empty 五 (R27), copied text (R30) and other versions (R31), as GX expectations on the
report_text asset, the same on every engine; and what they find in real published reports."""

from __future__ import annotations

import json
import random
import shutil
from pathlib import Path

import gx_fixtures as GF
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from checkpoint_support import base_reports, make_root, report, run_cli, write_data
from test_engines import pg_url  # noqa: F401  the PostgreSQL server fixture

from nianbao import rules as R
from nianbao import schema as S

SHARED = Path(__file__).resolve().parents[2] / "shared" / "corpus"
HEADINGS = dict(
    zip(
        ("s1", "s2", "s3", "s4", "s5", "s6"),
        (
            "一、总体情况",
            "二、主动公开政府信息情况",
            "三、收到和处理政府信息公开申请情况",
            "四、政府信息公开行政复议、行政诉讼情况",
            "五、存在的主要问题及改进情况",
            "六、其他需要报告的事项",
        ),
    )
)
CHARS = [chr(c) for c in range(0x4E00, 0x4E00 + 3000)]


def prose(seed: int) -> str:
    rng = random.Random(seed)
    return "。".join("".join(rng.choice(CHARS) for _ in range(30)) for _ in range(6)) + "。"


def sections(rid: str, agency: str, year: int, parts: dict[str, str], title_year: int | None = None) -> list[dict]:
    title = f"{agency}{title_year or year}年政府信息公开工作年度报告"
    opening = f"本报告所列数据的统计期限自{year}年1月1日起至{year}年12月31日止。"
    out = [(k, "", t) for k, t in (("title", title), ("opening", opening))]
    out += [(k, HEADINGS[k], text) for k, text in parts.items()]
    return [
        {"report_id": rid, "section": k, "heading": h, "text": t, "ordinal": n, "source": "fixture"}
        for n, (k, h, t) in enumerate(out, 1)
    ]


XIHU, NANSHAN, SUZHOU, TIANHE = "西湖区人民政府", "南山区人民政府", "苏州市财政局", "天河区人民政府"
TOWN, VILLAGE = "某镇人民政府", "某乡人民政府"


def fixture_reports() -> list[dict]:
    """The nightly fixture, 西湖区's report of the year before, a town without table 四 and a village
    whose tables match no format version."""
    xihu_2022 = report(XIHU, "浙江省杭州市西湖区", "county", 2022)
    town = report(TOWN, "浙江省杭州市西湖区某镇", "township", 2023)
    del town["values"]["review_litigation"]
    village = report(VILLAGE, "浙江省杭州市西湖区某乡", "township", 2023)
    village["format_version"] = None
    return [*base_reports(), xihu_2022, town, village]


REPORTS = {(r["agency"], r["year"]): r for r in fixture_reports()}
SHARED_PROSE = {k: prose(i) for i, k in enumerate(HEADINGS)}


def _own(seed: int) -> dict[str, str]:
    return {k: prose(seed + i) for i, k in enumerate(HEADINGS)}


def _text_rows() -> list[dict]:
    xihu, xihu_2022, nanshan, suzhou, tianhe, town, village = (
        REPORTS[k]
        for k in (
            (XIHU, 2023),
            (XIHU, 2022),
            (NANSHAN, 2023),
            (SUZHOU, 2023),
            (TIANHE, 2023),
            (TOWN, 2023),
            (VILLAGE, 2023),
        )
    )
    new_total = xihu["values"]["applications"]["new_total"]
    xihu_text = {**SHARED_PROSE, "s3": f"本年度共收到政府信息公开申请{new_total}件。" + SHARED_PROSE["s3"]}
    rows = sections(xihu["report_id"], XIHU, 2023, xihu_text)
    rows += sections(xihu_2022["report_id"], XIHU, 2022, xihu_text)  # 2023's text is 2022's
    stated = "本年度共收到政府信息公开申请99件。"
    appeals = "因政府信息公开引起的行政复议案件99件、行政诉讼案件99件。"
    rows += sections(nanshan["report_id"], NANSHAN, 2023, _own(100) | {"s3": stated, "s4": appeals})
    rows += sections(suzhou["report_id"], SUZHOU, 2023, _own(200), 2022)
    rows[-7]["text"] = "本报告所列数据的统计期限自2022年1月1日起至2022年12月31日止。"  # the opening
    # 天河区: 一–四 copied from 西湖区, 五 says nothing, 六 missing.
    copied = {k: SHARED_PROSE[k] for k in ("s1", "s2", "s4")} | {"s3": SHARED_PROSE["s3"], "s5": "无。"}
    rows += sections(tianhe["report_id"], TIANHE, 2023, copied)
    rows += sections(town["report_id"], TOWN, 2023, _own(300))
    rows += sections(village["report_id"], VILLAGE, 2023, _own(400))
    return rows


def _version_row() -> dict:
    return {
        "report_id": REPORTS[(SUZHOU, 2023)]["report_id"],
        "source_file": "mirror/suzhou-2023.html",
        "source_sha256": "0" * 64,
        "parse_status": "parsed",
        "current_source_file": "fixture/suzhou.txt",
        "differing": "review_litigation.review_total",
        "statutory_values": json.dumps({"review_litigation": {"review_total": 9}}),
        "recorded_at": None,
    }


def text_data(folder: Path) -> Path:
    data = write_data(folder, fixture_reports())
    pq.write_table(
        pa.Table.from_pylist(_text_rows(), schema=S.TABLE_SCHEMAS["sections"]), data / "sections" / "t.parquet"
    )
    pq.write_table(
        pa.Table.from_pylist([_version_row()], schema=S.TABLE_SCHEMAS["versions"]), data / "versions" / "v.parquet"
    )
    return data


EXPECTED = {
    (NANSHAN, "R17.applications"),
    (NANSHAN, "R18.reviews"),
    (NANSHAN, "R19.litigations"),
    (XIHU, "R30.previous_year"),  # 西湖区 2023 prints its 2022 text
    (TOWN, "R24.tables"),
    (VILLAGE, "R25.format"),
    (SUZHOU, "R23.title"),
    (SUZHOU, "R23.period_start"),
    (SUZHOU, "R23.period_end"),
    (SUZHOU, "R31.versions"),
    (TIANHE, "R24.sections"),
    (TIANHE, "R27.five"),
    (TIANHE, "R30.same_year"),  # all of 天河区's own text is 西湖区's; only two thirds of 西湖区's is 天河区's
}
RID = {r["report_id"]: a for (a, _), r in REPORTS.items()}


def test_every_text_rule_has_a_failing_case():
    assert {rule for _, rule in EXPECTED} == {r.id for r in R.RULES if r.table == R.REPORT_TEXT}


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return text_data(tmp_path_factory.mktemp("text") / "data")


@pytest.fixture(scope="module")
def ctx():
    from nianbao.context import get_context

    return get_context()


def _checks(ctx, engine, data, work, **kw) -> set:
    got = GF.run_suites(ctx, engine, data, work, suites={"report_text"}, **kw)
    assert got.rows == {"report_text": 7}  # the reports with text (苏州市财政局 also has a version)
    rules = {c for _, c in got.checks}
    return {(RID[rid], check) for rid, check in got.checks} if rules else set()


@pytest.mark.parametrize("engine", ["duckdb", "pandas", "sqlite"])
def test_text_rules_fail_the_same_on_every_engine(engine, ctx, data, tmp_path):
    kw = {"db_url": f"sqlite:///{tmp_path / 'nianbao.db'}"} if engine == "sqlite" else {}
    assert _checks(ctx, "sql" if engine == "sqlite" else engine, data, tmp_path, **kw) == EXPECTED


@pytest.mark.postgres
def test_text_rules_on_postgresql(ctx, data, tmp_path, pg_url):  # noqa: F811
    assert _checks(ctx, "sql", data, tmp_path, db_url=pg_url) == EXPECTED


@pytest.mark.spark
def test_text_rules_on_spark(ctx, data, tmp_path):
    assert _checks(ctx, "spark", data, tmp_path) == EXPECTED


def test_nightly_explains_the_text_findings_in_chinese(data, tmp_path):
    root = make_root(tmp_path)
    proc = run_cli(root, "run", "nightly", "--data", str(data))
    assert proc.returncode == 2, proc.stderr[-3000:]
    run = (root / "uncommitted" / "runs" / "latest").resolve()
    f = pd.read_parquet(run / "findings.parquet")
    f = f[f.suite == "report_text"]
    assert {(r.agency, r.rule_id) for r in f.itertuples()} == EXPECTED
    msg = dict(zip(zip(f.agency, f.rule_id), f.message))
    assert "正文称“本年度共收到政府信息公开申请99件。”" in msg[(NANSHAN, "R17.applications")]
    assert msg[(NANSHAN, "R17.applications")].endswith(
        f"总计为 {REPORTS[(NANSHAN, 2023)]['values']['applications']['new_total']}"
    )
    assert "标题写的是 2022 年,报告年度为 2023 年" in msg[(SUZHOU, "R23.title")]
    assert "缺少第 六 部分" in msg[(TIANHE, "R24.sections")]
    assert "第五部分只有“无。”" in msg[(TIANHE, "R27.five")]
    assert "100% 的文字与西湖区人民政府的报告" in msg[(TIANHE, "R30.same_year")]
    assert "mirror/suzhou-2023.html(表四·行政复议·总计 不同)" in msg[(SUZHOU, "R31.versions")]
    results = json.loads((run / "run_results.json").read_text(encoding="utf-8"))
    facts = results["derived_assets"]["report_text"]
    assert facts["reports_with_text"] == 7 and facts["reports_with_versions"] == 1
    page = (
        root
        / "uncommitted"
        / "data_docs"
        / "local_site"
        / "nianbao"
        / "agencies"
        / f"{REPORTS[(TIANHE, 2023)]['report_id']}.html"
    )
    assert "内容雷同" in page.read_text(encoding="utf-8")


@pytest.mark.skipif(not SHARED.is_dir(), reason="needs ../shared/corpus")
def test_real_reports_text_against_their_tables(tmp_path):
    """The complete real reports, end to end. What they show (checked by hand against the pages):
    - pingtan-2022: the text says "全区收到政府信息公开申请75件", table 三's 本年新收 总计 prints 74
      (71 自然人 + 3 商业企业; 1 more is 上年结转): R17.
    - hzs-2024: the text says "因依申请公开引发行政复议1起,结果为维持…", table 四's 行政复议 row prints
      结果维持 1 and 总计 0 (R4 too): R18.
    Nothing else: every period, title year and section is as it should be, 五 is written out in all."""
    src = tmp_path / "src"
    src.mkdir()
    for path in [
        *(SHARED / "html-series").glob("*.html"),
        *(SHARED / "html").glob("*.html"),
        SHARED / "real" / "000.txt",
    ]:
        shutil.copy(path, src / path.name)
    root = make_root(tmp_path)
    proc = run_cli(root, "ingest", str(src), "--out", str(root / "data"))
    assert proc.returncode in (0, 1), proc.stderr[-3000:]
    proc = run_cli(root, "run", "nightly")
    assert proc.returncode == 2, proc.stderr[-3000:]
    run = (root / "uncommitted" / "runs" / "latest").resolve()
    f = pd.read_parquet(run / "findings.parquet")
    f = f[f.suite == "report_text"]
    found = {(r.agency, int(r.year), r.rule_id): r.message for r in f.itertuples()}
    assert set(found) == {
        ("平潭综合实验区", 2022, "R17.applications"),
        ("平潭综合实验区行政审批局", 2024, "R18.reviews"),
    }
    assert "“2022年，全区收到政府信息公开申请75件" in found[("平潭综合实验区", 2022, "R17.applications")]
    assert found[("平潭综合实验区", 2022, "R17.applications")].endswith("总计为 74")
    assert "因依申请公开引发行政复议1起" in found[("平潭综合实验区行政审批局", 2024, "R18.reviews")]
    facts = json.loads((run / "run_results.json").read_text(encoding="utf-8"))["derived_assets"]["report_text"]
    assert facts["reports_with_text"] == 17  # every report ingest read (gaj-2020 is a page of links)
    assert facts["sentences_skipped"] > 0 and facts["copies"] == 0
