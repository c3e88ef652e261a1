"""内容雷同 (R30): near-duplicate text with MinHash/LSH, measured exactly, templates left out."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from nianbao import similarity as SIM
from nianbao.parse import html

SHARED = Path(__file__).resolve().parents[2] / "shared" / "corpus"
CHARS = [chr(c) for c in range(0x4E00, 0x4E00 + 3000)]


def prose(rng: random.Random, sentences: int = 8) -> str:
    """Made-up Chinese sentences: unlike any other text but by chance."""
    return "。".join("".join(rng.choice(CHARS) for _ in range(rng.randint(15, 40))) for _ in range(sentences)) + "。"


def report(rid: str, key: str, year: int, rng: random.Random) -> SIM.Text:
    return SIM.Text(rid, key, year, {f"s{i}": prose(rng) for i in range(1, 7)})


def by_pair(found) -> dict[tuple[str, str], SIM.Match]:
    return {(m.report_id, m.other_id): m for m in found}


def test_copy_of_last_years_report_with_new_year_and_numbers_is_a_match():
    rng = random.Random(1)
    last = report("A-2022", "a", 2022, rng)
    sections = {k: v.replace("。", "2022年共收到申请15件。", 1) for k, v in last.sections.items()}
    last = SIM.Text(last.report_id, last.agency_key, last.year, sections)
    copied = {k: v.replace("2022年共收到申请15件", "2023年共收到申请7件") for k, v in sections.items()}
    texts = [last, SIM.Text("A-2023", "a", 2023, copied), report("B-2023", "b", 2023, rng)]
    found = by_pair(SIM.matches(texts))
    assert set(found) == {("A-2023", "A-2022")}
    m = found[("A-2023", "A-2022")]
    assert m.scope == SIM.PREVIOUS_YEAR and m.share == 1.0 and set(m.sections) == {f"s{i}" for i in range(1, 7)}


def test_copy_of_another_agencys_report_names_both_and_each_share_is_its_own():
    rng = random.Random(2)
    source = report("A", "a", 2023, rng)
    # B pastes A's whole text and adds a long section 六 of its own: all of B's 一–五 is A's.
    extra = prose(rng, 40)
    b = SIM.Text("B", "b", 2023, {**source.sections, "s6": source.sections["s6"] + extra})
    texts = [source, b, *(report(f"X{i}", f"x{i}", 2023, rng) for i in range(50))]
    found = by_pair(SIM.matches(texts, limit=0.2))
    assert set(found) == {("A", "B"), ("B", "A")}
    assert found[("A", "B")].share == 1.0 and found[("A", "B")].scope == SIM.SAME_YEAR
    assert found[("B", "A")].share < found[("A", "B")].share  # B's own text is mostly not A's
    assert found[("B", "A")].sections["s1"] == 1.0 and found[("B", "A")].sections["s6"] < 0.5


def test_model_paragraphs_many_agencies_print_are_templates_not_copies():
    rng = random.Random(3)
    model = [prose(rng, 6) for _ in range(6)]  # a province's model text, one paragraph per section
    texts = []
    for i in range(40):
        own = report(f"R{i}", f"k{i}", 2023, rng)
        texts.append(
            SIM.Text(
                own.report_id, own.agency_key, 2023, {k: model[n] + v for n, (k, v) in enumerate(own.sections.items())}
            )
        )
    assert SIM.matches(texts) == []
    model_sentences = {s for m in model for s in SIM.sentences(m)}
    assert model_sentences <= SIM.template_sentences(texts)
    # Three agencies printing the same paragraphs are below the template floor: their text counts.
    assert not model_sentences & SIM.template_sentences(texts[:3])


def test_short_texts_and_the_formats_own_headings_are_not_compared():
    headings = {
        f"s{i}": h for i, h in enumerate(["一、总体情况", "二、主动公开政府信息情况", "五、存在的主要问题及改进情况"])
    }
    texts = [SIM.Text("A", "a", 2022, headings), SIM.Text("B", "a", 2023, headings), SIM.Text("C", "c", 2023, headings)]
    assert SIM.matches(texts, limit=0.0) == []
    assert SIM.shingles("").size == 0 and SIM.normalise("２０２３ 年，收到 15 件。") == "0年收到0件"


def test_lsh_finds_every_copy_among_many_reports_without_false_pairs():
    rng = random.Random(4)
    texts = [report(f"R{i}", f"k{i}", 2024, rng) for i in range(3000)]
    copies = {}
    for _ in range(30):
        src, dst = rng.sample(range(3000), 2)
        if src in copies or dst in copies or src in copies.values() or dst in copies.values():
            continue
        copies[dst] = src
        texts[dst] = SIM.Text(texts[dst].report_id, texts[dst].agency_key, 2024, dict(texts[src].sections))
    found = {(m.report_id, m.other_id) for m in SIM.matches(texts)}
    expected = {(f"R{d}", f"R{s}") for d, s in copies.items()} | {(f"R{s}", f"R{d}") for d, s in copies.items()}
    assert found == expected


@pytest.mark.skipif(not SHARED.is_dir(), reason="needs ../shared/corpus")
def test_real_series_reuse_text_but_none_is_a_copy():
    """Real departments of one jurisdiction over the years: each report repeats part of the year
    before (the measure sees it), none at the level of a copy; no two departments alike."""
    texts = []
    for path in sorted((SHARED / "html").glob("pingtan-*.html")) + sorted((SHARED / "html-series").glob("*.html")):
        name, year = path.stem.rsplit("-", 1)
        page = html.read_page(path.read_bytes(), str(path))
        texts.append(SIM.Text(path.stem, name, int(year), {"all": "\n".join(page.paragraphs)}))
    assert SIM.matches(texts) == []
    found = SIM.matches(texts, limit=0.0)
    assert {m.scope for m in found} == {SIM.PREVIOUS_YEAR}  # no department reads like another
    shares = {(m.report_id, m.other_id): m.share for m in found}
    assert ("pingtan-2025", "pingtan-2024") in shares and ("jtj-2023", "jtj-2022") in shares
    assert all(s < 0.8 for s in shares.values()), shares
    # gaj-2020's page holds only a link to its file (文件下载): too little text to compare with.
    assert ("gaj-2021", "gaj-2020") not in shares and all(v > 0.2 for v in shares.values()), shares
