"""The report's text by part (parse/sections.py, the `sections` table): real reports of every kind yield
their six sections in order under the headings they print; damaged texts (a section missing, a table
of contents, a caption repeating a heading, Markdown headings, an empty 五) are split as printed, with
nothing invented; ingest writes the table in its snapshot, idempotently, and reads old folders without it."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from nianbao import datafolder
from nianbao import ingest as I
from nianbao import schema as S
from nianbao.parse import parse_file
from nianbao.paths import ROOT

CORPUS = Path(os.environ.get("NIANBAO_CORPUS", ROOT.parent / "shared" / "corpus"))
NUMBERED = ["s1", "s2", "s3", "s4", "s5", "s6"]
FORM = {  # the national form's headings
    "s1": "一、总体情况",
    "s2": "二、主动公开政府信息情况",
    "s3": "三、收到和处理政府信息公开申请情况",
    "s4": "四、政府信息公开行政复议、行政诉讼情况",
    "s5": "五、存在的主要问题及改进情况",
    "s6": "六、其他需要报告的事项",
}
# Every complete real report, with the headings it prints where they differ from the form's (read on the
# printed pages); gaj-2020 is not here: its page holds only a link to the report's file (below).
REAL_REPORTS = {
    "real/000.txt": {},
    "html/pingtan-2021.html": {},
    "html/pingtan-2022.html": {"s4": "四、政府信息公开行政法复议、行政诉讼情况"},  # '行政法复议' as printed
    "html/pingtan-2023.html": {},
    "html/pingtan-2024.html": {},
    "html/pingtan-2025.html": {},
    "html/shuyang-fgj-2023.html": {"s5": "五、存在的主要问题及整改措施"},
    "html-series/gaj-2019.html": {},  # the 2019 (试行) format
    "html-series/gaj-2021.html": {},
    "html-series/gaj-2022.html": {},
    "html-series/gaj-2024.html": {"s5": "五、存在的主要问题及明年工作计划"},
    "html-series/hzs-2022.html": {},
    "html-series/hzs-2023.html": {},
    "html-series/hzs-2024.html": {"s4": "四、政府信息公开行政复议与行政诉讼情况"},
    "html-series/jtj-2022.html": {},
    "html-series/jtj-2023.html": {},
    "html-series/jtj-2024.html": {},
    "pdf/hongze-2023.pdf": {},
    "pdf/hongze-2024.pdf": {},
    "pdf/huaian-2024.pdf": {},
}


def _parts(report) -> dict[str, object]:
    return {p.key: p for p in report.sections}


@pytest.mark.parametrize("name", sorted(REAL_REPORTS))
def test_real_reports_yield_six_sections_in_order(name):
    """Title, opening and 一 … 六 in this order, each under its printed heading, with provenance; the
    prose sections hold their prose, the table sections none of their tables' cells."""
    report = parse_file(CORPUS / name)
    assert [p.key for p in report.sections] == ["title", "opening", *NUMBERED], name
    parts = _parts(report)
    assert {k: parts[k].heading for k in NUMBERED} == {**FORM, **REAL_REPORTS[name]}
    assert all(p.source for p in report.sections)
    assert "年" in parts["title"].text and "报告" in parts["title"].text and not parts["title"].heading
    assert "报告" in parts["opening"].text and not parts["opening"].heading
    assert len(parts["s1"].text) > 100 and parts["s5"].text and parts["s6"].text
    table_cells = {c.text for c in report.cells if c.text and not c.text.isdigit()}  # '/', '—' as printed
    for key in ("s2", "s3", "s4"):
        assert not set(parts[key].text.splitlines()) & table_cells, (key, parts[key].text[:200])
    for part in report.sections:  # no section's text repeats its own heading or another's
        assert not any(line.strip() in FORM.values() for line in part.text.splitlines()), part.key


def test_real_000_sections_as_printed():
    """000.txt line by line: the title block with its date, one opening line, and each section's lines."""
    parts = _parts(parse_file(CORPUS / "real" / "000.txt"))
    assert parts["title"].text == "深州市人民政府办公室\n2021年政府信息公开工作年度报告\n(2022年1月12日)"
    assert parts["title"].source == "line 1–3"
    assert parts["opening"].source == "line 4" and parts["opening"].text.startswith("本报告依据")
    assert parts["s1"].source == "line 5–10" and parts["s1"].text.startswith("2021年,市政府办公室认真贯彻落实")
    assert parts["s2"].text == parts["s3"].text == parts["s4"].text == ""  # tables only
    assert parts["s6"].text == "我市未收取过信息处理费用。"


def test_page_chrome_after_the_report_is_not_its_text():
    """pingtan's page continues after 六 with links and a footer: 六 ends with the report's own sentence."""
    parts = _parts(parse_file(CORPUS / "html" / "pingtan-2022.html"))
    assert parts["s6"].text == "2022年，无收取信息处理费情况。"
    assert parts["title"].text == "平潭综合实验区2022年度政府信息公开工作年度报告"  # not the site's menus
    assert parts["opening"].text.startswith("本报告根据《中华人民共和国政府信息公开条例》")
    signed = _parts(parse_file(CORPUS / "html-series" / "gaj-2021.html"))["s6"].text
    assert signed.splitlines()[-2:] == ["平潭综合实验区公安局", "2022年1月7日"]  # the signature is the report's


def test_a_page_without_the_report_text_has_no_sections():
    """gaj-2020's page shows only the title and a link to the report's file: no section is invented."""
    report = parse_file(CORPUS / "html-series" / "gaj-2020.html")
    assert report.status == "rejected"
    assert [p.key for p in report.sections] == ["title"]


# --- Synthetic damaged texts: each case is the text and what the split must be.

BODY = {
    "s1": "2023年，本机关认真贯彻落实政府信息公开工作要求。\n（一）主动公开方面\n全年主动公开政府信息120条。",
    "s5": "公开内容的全面性还需加强，下一步将完善工作机制。",
    "s6": "本年度未收取信息处理费。",
}
PIPE_TABLE = "规章 | 0 | 0 | 0 |\n行政规范性文件 | 3 | 1 | 20 |"
OPENING = "本报告根据《中华人民共和国政府信息公开条例》编制，统计期限自2023年1月1日起至2023年12月31日止。"


def _report_text(headings: dict[str, str], bodies: dict[str, str] | None = None, before: str = "") -> str:
    bodies = {**BODY, **(bodies or {})}
    lines = ["某局", "2023年政府信息公开工作年度报告", before, OPENING]
    for key, heading in headings.items():
        lines += [heading, bodies.get(key, PIPE_TABLE if key in ("s2", "s3", "s4") else "")]
    return "\n".join(line for line in lines if line) + "\n"


TOC = "目录\n" + "\n".join(FORM.values())
TOC_LEADERS = "目  录\n" + "\n".join(f"{h}……………{k}" for k, h in enumerate(FORM.values(), 1))
CASES = {
    "form": (_report_text(FORM), FORM),
    "missing-five": (_report_text({k: h for k, h in FORM.items() if k != "s5"}), {**FORM, "s5": None}),
    "toc-repeats-headings": (_report_text(FORM, before=TOC), FORM),
    "toc-with-leaders": (_report_text(FORM, before=TOC_LEADERS), FORM),
    "caption-repeats-heading": (_report_text(FORM, {"s3": f"{FORM['s3']}\n{PIPE_TABLE}"}), FORM),
    "markdown-headings": (_report_text({k: f"## {h}" for k, h in FORM.items()}), FORM),
    "bold-headings": (_report_text({k: f"**{h}**" for k, h in FORM.items()}), FORM),
    "full-width-and-point": (
        _report_text({**FORM, "s1": "一．总体情况", "s2": "二.主动公开政府信息情况", "s6": "六，其他需要报告的事项"}),
        {**FORM, "s1": "一．总体情况", "s2": "二.主动公开政府信息情况", "s6": "六，其他需要报告的事项"},
    ),
    "extra-words": (_report_text({**FORM, "s1": "一、总体情况概述"}), {**FORM, "s1": "一、总体情况概述"}),
    "part-numbering": (
        _report_text({**FORM, "s1": "第一部分 总体情况", "s2": "第二部分 主动公开政府信息情况"}),
        {**FORM, "s1": "第一部分 总体情况", "s2": "第二部分 主动公开政府信息情况"},
    ),
    "sub-item-reads-like-a-heading": (
        _report_text(FORM, {"s1": BODY["s1"] + "\n二、主动公开方面\n本年度新增公开目录5项。"}),
        FORM,
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_damaged_texts_split_as_printed(case, tmp_path):
    """Each numbered section found under the heading it prints (markup dropped), a missing one absent,
    a table of contents, a caption and a sub-item never taken for the section's heading."""
    text, want = CASES[case]
    path = tmp_path / f"{case}.txt"
    path.write_text(text, encoding="utf-8")
    report = parse_file(path)
    parts = _parts(report)
    assert {k: parts[k].heading if k in parts else None for k in NUMBERED} == {k: want.get(k) for k in NUMBERED}
    assert [p.key for p in report.sections] == ["title", "opening", *(k for k in NUMBERED if want.get(k))]
    assert parts["s1"].text == BODY["s1"] + (
        "\n二、主动公开方面\n本年度新增公开目录5项。" if case == "sub-item-reads-like-a-heading" else ""
    )
    assert parts["s6"].text == BODY["s6"]
    assert parts["opening"].text.startswith(OPENING) and parts["title"].text == "某局\n2023年政府信息公开工作年度报告"
    if "s5" in parts:
        assert parts["s5"].text == BODY["s5"]
    else:  # 四's text runs on to 六: nothing of 五 was printed
        assert parts["s4"].text == ""
    lines = text.splitlines()
    heading_line = int(parts["s1"].source.split()[1].split("–")[0])
    assert want["s1"] in lines[heading_line - 1]  # the heading line itself, after any table of contents


def test_caption_stays_in_its_section_text(tmp_path):
    """A table's caption repeating its section's heading is the section's text, as printed; the heading is
    the first of the two lines."""
    text, _ = CASES["caption-repeats-heading"]
    (tmp_path / "r.txt").write_text(text, encoding="utf-8")
    three = _parts(parse_file(tmp_path / "r.txt"))["s3"]
    assert three.text == FORM["s3"]
    heading_line = int(three.source.split()[1].split("–")[0])
    assert text.splitlines()[heading_line - 1 : heading_line + 1] == [FORM["s3"], FORM["s3"]]


def test_empty_section_five_keeps_its_word(tmp_path):
    """'五、…' whose body is '无。' (or '无'): the section is there, its text is what it prints."""
    for body in ("无。", "无"):
        (tmp_path / "r.txt").write_text(_report_text(FORM, {"s5": body}), encoding="utf-8")
        parts = _parts(parse_file(tmp_path / "r.txt"))
        assert parts["s5"].heading == FORM["s5"] and parts["s5"].text == body


def test_heading_with_its_first_sentence_on_one_line(tmp_path):
    """'五、存在的主要问题及改进情况。一是…': the heading, and the sentence as the section's first line."""
    line = "五、存在的主要问题及改进情况：一是公开内容的全面性还需加强，二是解读形式还较单一。"
    (tmp_path / "r.txt").write_text(_report_text({**FORM, "s5": line}, {"s5": ""}), encoding="utf-8")
    parts = _parts(parse_file(tmp_path / "r.txt"))
    assert parts["s5"].heading == "五、存在的主要问题及改进情况"
    assert parts["s5"].text == "一是公开内容的全面性还需加强，二是解读形式还较单一。"


def test_html_headings_in_h_tags_and_bold(tmp_path):
    """HTML: headings in <h2>, in <strong>, numbered with full-width punctuation; sources name paragraphs."""
    table = "<table><tr><td>信息内容</td><td>本年制发件数</td></tr><tr><td>规章</td><td>0</td></tr></table>"
    body = [
        "<h1>某局2023年政府信息公开工作年度报告</h1>",
        f"<p>{OPENING}</p>",
        "<h2>一、总体情况</h2><p>全年主动公开政府信息120条。</p>",
        f"<p><strong>二．主动公开政府信息情况</strong></p>{table}",
        "<h3>三、收到和处理政府信息公开申请情况</h3>",
        "<h3>四、政府信息公开行政复议、行政诉讼情况</h3>",
        "<p><b>五、存在的主要问题及改进情况</b></p><p>无。</p>",
        "<h2>六、其他需要报告的事项</h2><p>无</p>",
    ]
    path = tmp_path / "r.html"
    path.write_text(f"<html><body>{''.join(body)}</body></html>", encoding="utf-8")
    report = parse_file(path)
    parts = _parts(report)
    assert [p.key for p in report.sections] == ["title", "opening", *NUMBERED]
    assert parts["s2"].heading == "二．主动公开政府信息情况" and parts["s2"].text == ""
    assert parts["s1"].source == "paragraph 3–4" and parts["s1"].text == "全年主动公开政府信息120条。"
    assert parts["s3"].text == parts["s4"].text == "" and parts["s5"].text == "无。" and parts["s6"].text == "无"


def test_table_rows_numbered_like_headings_are_not_sections(tmp_path):
    """A table printed one cell per line ('三、本年度办理结果', '四、结转下年度继续办理') splits nothing."""
    rows = "\n".join(["一、本年新收政府信息公开申请数量", "3", "二、上年结转政府信息公开申请数量", "0"])
    rows += "\n三、本年度办理结果\n四、结转下年度继续办理\n0"
    (tmp_path / "r.txt").write_text(_report_text(FORM, {"s3": rows}), encoding="utf-8")
    parts = _parts(parse_file(tmp_path / "r.txt"))
    assert {k: p.heading for k, p in parts.items() if k in NUMBERED} == FORM
    assert parts["s3"].text == "" and parts["s4"].text == ""


# --- Ingest: the table, its provenance, idempotency, old folders.


def _inputs(folder: Path) -> Path:
    folder.mkdir()
    shutil.copy(CORPUS / "real" / "000.txt", folder / "000.txt")
    shutil.copy(CORPUS / "html-series" / "jtj-2024.html", folder / "jtj-2024.html")
    (folder / "empty.txt").write_text("", encoding="utf-8")  # rejected: no rows beyond `reports`
    return folder


def test_ingest_writes_sections_with_provenance_idempotently(tmp_path):
    src, out = _inputs(tmp_path / "in"), tmp_path / "data"
    first = I.ingest([src], out)
    sections = I.stored_table(out, "sections")
    assert sections.schema.equals(S.SECTIONS_SCHEMA)
    ids = {o.path.rsplit("/", 1)[-1]: o.report_id for o in first.outcomes}
    rows = sections.to_pylist()
    assert {r["report_id"] for r in rows} == {ids["000.txt"], ids["jtj-2024.html"]}  # the rejected one has none
    for rid in (ids["000.txt"], ids["jtj-2024.html"]):
        mine = sorted((r for r in rows if r["report_id"] == rid), key=lambda r: r["ordinal"])
        assert [r["section"] for r in mine] == ["title", "opening", *NUMBERED]
        assert [r["ordinal"] for r in mine] == list(range(1, 9))
        assert all(r["source"] and r["section"] in S.SECTION_KEYS for r in mine)
        assert [r["heading"] for r in mine[2:]] == list(FORM.values())
    six = next(r for r in rows if r["report_id"] == ids["000.txt"] and r["section"] == "s6")
    assert (six["text"], six["source"]) == ("我市未收取过信息处理费用。", "line 66–67")
    snapshot = datafolder.open_snapshot(out)
    assert snapshot.files("sections") == [out / snapshot.listed["sections"]]  # in the committed snapshot

    second = I.ingest([src], out)
    assert set(second.by_action()) == {"unchanged"}
    assert I.stored_table(out, "sections").equals(sections)


def test_a_folder_written_before_sections_existed_still_reads(tmp_path):
    """A snapshot naming no sections file and no sections/ folder: an empty table everywhere; the next
    ingest writes the rows."""
    src, out = _inputs(tmp_path / "in"), tmp_path / "data"
    I.ingest([src], out)
    pointer = datafolder.pointer_path(out)
    doc = json.loads(pointer.read_text(encoding="utf-8"))
    del doc["files"]["sections"]
    pointer.write_text(json.dumps(doc), encoding="utf-8")
    shutil.rmtree(out / "sections")
    snapshot = datafolder.open_snapshot(out)
    assert snapshot.files("sections") == [] and snapshot.source("sections") is None
    assert I.stored_table(out, "sections").num_rows == 0
    assert all(r["meta"] for r in datafolder.read_reports(out, _ids(out)).values())
    I.ingest([src], out)
    assert I.stored_table(out, "sections").num_rows == 16


def _ids(out: Path) -> list[str]:
    return I.stored_table(out, "reports")["report_id"].to_pylist()


def test_tables_only_files_keep_their_prose_and_leave_out_headers():
    """Real files of the tables alone: a header row printed as spaced words (002) is no text of 四; the
    sentences printed under 二 and 三 instead of, or beside, their tables (025, 029) are."""
    parts = {name: _parts(parse_file(CORPUS / "real" / f"{name}.tables.txt")) for name in ("002", "025", "029")}
    assert [parts["002"][k].text for k in ("s2", "s3", "s4")] == ["", "", ""]
    assert parts["025"]["s2"].text == "本年度未制发和处理区级医疗卫生系统行政规范性文件。"
    assert parts["025"]["s3"].text == "本年度未收到政府信息公开申请。"
    assert parts["029"]["s3"].text.startswith("2022年,区政府办公室共收到8份政府信息公开申请")
    assert "title" not in parts["002"] and "s1" not in parts["002"]  # never invented
