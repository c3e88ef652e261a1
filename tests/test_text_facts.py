"""What a report's text states (R17–R19, R23, R27): clear sentences read, unclear ones counted, never guessed."""

from __future__ import annotations

from pathlib import Path

import pytest

from nianbao import text_facts as TF
from nianbao.parse import html

SHARED = Path(__file__).resolve().parents[2] / "shared" / "corpus"
A, RV, L = TF.APPLICATIONS, TF.REVIEWS, TF.LITIGATIONS

STATED = [
    # (sentence, facts read, skipped as unclear)
    ("2022年，全区收到政府信息公开申请75件，涉及自然人72件、商业企业3件。", {A: 75}, False),
    ("本年度全区共收到70件申请，及时依法依规办结69件。", {A: 70}, False),
    ("2023年全区接收通过邮寄、网络提交的各类政府信息公开申请共计81件。", {A: 81}, False),
    ("2023年度我局共收到依申请信息公开26件。", {A: 26}, False),
    ("本年度新收政府信息公开申请12件。", {A: 12}, False),
    ("２０２３年，收到政府信息公开申请１５件。", {A: 15}, False),  # full-width digits
    ("2019年，未收到公民提出的公开政府信息申请。", {A: 0}, False),
    ("目前未收到该申请人提交的补正。", {}, False),  # an applicant, not applications
    ("收到行政复议申请2件。", {RV: 2}, False),  # an appeal is not an application for information
    ("因政府信息公开引起的行政复议案件2件、行政诉讼案件7件。", {RV: 2, L: 7}, False),
    ("全年办理因政府信息公开申请引发的行政复议36起，行政诉讼9起。", {RV: 36, L: 9}, False),
    ("未收到因政府信息公开提出的行政复议、行政诉讼的申请。", {RV: 0, L: 0}, False),
    ("没有因政府信息公开申请行政复议或行政诉讼的事项。", {RV: 0, L: 0}, False),
    ("全年办理政府信息公开申请218件。", {}, True),  # received, or received and carried over?
    ("从申请方式看，网络申请3件，占43%。", {}, True),
    ("2023年收到申请12件，同比增加5件。", {}, True),  # compared with another year
    ("本报告共分6个部分：总体情况、收到和处理政府信息公开申请情况。", {}, False),
    ("我局持续深化政务公开工作。", {}, False),
]


@pytest.mark.parametrize("sentence, facts, unclear", STATED)
def test_clear_sentences_are_read_and_unclear_ones_skipped(sentence, facts, unclear):
    stated, skipped = TF.statements(sentence)
    assert {f: s.value for f, s in stated.items()} == facts
    assert all(s.sentence == sentence for s in stated.values())
    assert skipped == ([sentence] if unclear else [])


def test_two_different_numbers_for_one_fact_are_not_read():
    text = "本年度收到政府信息公开申请20件。其中，新收政府信息公开申请18件。行政复议1件。"
    stated, skipped = TF.statements(text)
    assert {f: s.value for f, s in stated.items()} == {RV: 1}
    assert len(skipped) == 2
    same = "本年度收到政府信息公开申请20件。全年共收到政府信息公开申请20件。"
    assert {f: s.value for f, s in TF.statements(same)[0].items()} == {A: 20}


@pytest.mark.parametrize(
    "sentence, years",
    [
        ("本报告所列数据的统计期限自2021年1月1日起至2021年12月31日止。", (2021, 2021)),
        ("本报告中所列数据统计时限为2022年1月1日至2022年12月31日。", (2022, 2022)),
        ("本报告中有关情况的统计期限为2024年1月1日至12月31日。", (2024,)),
        ("本报告所列数据的统计期限自 2023 年 1 月 1 日起至 2023 年 12 月 31 日止。", (2023, 2023)),
        ("本报告所列数据统计期限为2022年1月1日至2023年12月31日。", (2022, 2023)),
        ("2023年，我局认真贯彻《条例》。", ()),
    ],
)
def test_statistics_period(sentence, years):
    assert TF.statistics_period(sentence)[0] == years


@pytest.mark.parametrize(
    "body, generic",
    [
        ("", True),
        ("无。", True),
        ("暂无。", True),
        ("本年度无存在问题。", True),
        (None, None),
        ("2024年，我局在政府信息公开方面取得了一定成效，但还存在一些不足。下一步，我局将组织学习培训。", False),
    ],
)
def test_section_five_that_says_nothing(body, generic):
    assert TF.generic_five(body) is generic


def test_title_year_with_a_space_and_full_width():
    assert TF.title_year("平潭综合实验区公安局2021年政府信息公开工作年度报告") == 2021
    assert TF.title_year("关于 2024 年度政府信息公开工作的报告") == 2024
    assert TF.title_year("２０２３年政府信息公开工作年度报告") == 2023
    assert TF.title_year("政府信息公开工作年度报告") is None


@pytest.mark.skipif(not SHARED.is_dir(), reason="needs ../shared/corpus")
def test_real_pages_state_what_their_text_says():
    """Every number these real pages state in their text, read from the whole page (checked by hand)."""
    expected = {
        "html/pingtan-2021": {A: 70},
        "html/pingtan-2022": {A: 75, RV: 2, L: 1},
        "html/pingtan-2023": {A: 81, RV: 2, L: 7},
        "html/pingtan-2024": {},  # "全年办理政府信息公开申请218件": skipped
        "html/pingtan-2025": {A: 154, RV: 36, L: 9},
        "html/shuyang-fgj-2023": {A: 26},
        "html-series/gaj-2019": {A: 0},
        "html-series/gaj-2021": {A: 1, RV: 0, L: 0},
        "html-series/hzs-2022": {A: 4, RV: 0, L: 0},
        "html-series/hzs-2023": {A: 7, RV: 1, L: 1},
        "html-series/hzs-2024": {A: 28, RV: 1},
        "html-series/jtj-2024": {},  # "依法办结政府信息公开申请58件": skipped
    }
    for name, facts in expected.items():
        path = SHARED / f"{name}.html"
        page = html.read_page(path.read_bytes(), str(path))
        stated, _ = TF.statements("\n".join(page.paragraphs))
        assert {f: s.value for f, s in stated.items()} == facts, name
