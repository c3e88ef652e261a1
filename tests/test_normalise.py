"""Look-alike ideographs as the unified ideographs they print: Kangxi radicals, CJK radical supplements and
compatibility ideographs, which PDF text layers (Noto CJK's, real reports') hold for ordinary characters."""

from __future__ import annotations

import unicodedata

import pytest

from nianbao.parse import labels as L
from nianbao.parse.encoding import unify_ideographs

# The blocks unify_ideographs rewrites; every other code point stays as it is.
BLOCKS = ((0x2E80, 0x2EFF), (0x2F00, 0x2FDF), (0xF900, 0xFAFF), (0x2F800, 0x2FA1F))
# Where unified ideographs live: URO, extension A, and the extensions of planes 2 and 3.
UNIFIED = ((0x3400, 0x4DBF), (0x4E00, 0x9FFF), (0x20000, 0x323AF))


def in_ranges(c: int, ranges) -> bool:
    """Whether code point `c` lies in one of `ranges` (inclusive pairs)."""
    return any(lo <= c <= hi for lo, hi in ranges)


@pytest.mark.parametrize(
    "printed,unified",
    [
        ("⽆", "无"),  # U+2F46 KANGXI RADICAL NOT: Chromium's Noto CJK print of 无
        ("⾏政许可", "行政许可"),  # U+2F8F in a real report's PDF
        ("⼀⼆⼈⼤⽂⽅", "一二人大文方"),  # Kangxi radicals Noto CJK gives for label characters
        ("⼈⺠政府", "人民政府"),  # U+2EA0 CJK RADICAL CIVILIAN: no NFKC mapping
        ("⻓江西路", "长江西路"),  # U+2ED3 C-SIMPLIFIED LONG
        ("部⻔", "部门"),  # U+2ED4 C-SIMPLIFIED GATE
        ("采购项⺫数量", "采购项目数量"),  # U+2EAB CJK RADICAL EYE
        ("⻅", "见"),
        ("⻚", "页"),
        ("⻢", "马"),  # C-SIMPLIFIED SEE, LEAF, HORSE
        ("⺟", "母"),
        ("⻳", "龟"),  # the two supplements NFKC does map
        ("豈", "豈"),  # U+F900 compatibility ideograph -> U+8C48
        ("\U0002f800", "丽"),  # compatibility ideograph supplement -> U+4E3D
        ("行", "行"),  # U+FA08 -> U+884C
    ],
)
def test_look_alikes_become_unified_ideographs(printed, unified):
    """Each look-alike becomes the ideograph it prints, the text around it unchanged."""
    assert unify_ideographs(printed) == unified
    assert unify_ideographs(f"1.{printed} | 0 |") == f"1.{unified} | 0 |"


@pytest.mark.parametrize(
    "text",
    [
        "１２３４５",  # full-width digits: cells are kept as printed, NFKC would make them ASCII
        "（一）予以公开，共３件。",  # full-width brackets and punctuation
        "﨑﨎",  # U+FA11, U+FA0E: unified ideographs inside the compatibility block
        "⺀",  # U+2E80 CJK RADICAL REPEAT: no equivalent ideograph
        "ﾃｽﾄ ①②  ㍿ ﬁ",  # other NFKC-mapped characters are not ideographs and stay
        "行政许可 | 0 | / | — | 无 |",
        "",
    ],
)
def test_other_text_is_unchanged(text):
    """Only the look-alike ideographs change: full-width forms and every other compatibility character stay."""
    assert unify_ideographs(text) == text


def test_text_without_look_alikes_is_returned_as_it_is():
    """The common case costs one scan: the same string object comes back, no copy is made."""
    text = "二、主动公开政府信息情况\n规章 | 0 | 0 | 0 |\n" * 1000
    assert unify_ideographs(text) is text


def test_every_mapped_character_becomes_a_unified_ideograph():
    """Every code point of the four blocks that changes becomes one unified ideograph, and where NFKC maps
    it, to what NFKC gives: all 214 Kangxi radicals and every compatibility ideograph with a decomposition."""
    changed = 0
    for lo, hi in BLOCKS:
        for c in range(lo, hi + 1):
            out = unify_ideographs(chr(c))
            if out == chr(c):
                continue
            changed += 1
            assert len(out) == 1 and in_ranges(ord(out), UNIFIED), hex(c)
            nfkc = unicodedata.normalize("NFKC", chr(c))
            assert nfkc == chr(c) or nfkc == out, hex(c)
    kangxi = sum(unify_ideographs(chr(c)) != chr(c) for c in range(0x2F00, 0x2FD6))
    decomposable = sum(unicodedata.decomposition(chr(c)) != "" for lo, hi in BLOCKS[2:] for c in range(lo, hi + 1))
    assert kangxi == 214
    assert changed == 214 + decomposable + 114  # 114: the supplements with an equivalent ideograph


def test_no_code_point_outside_the_four_blocks_changes():
    """Every other code point of planes 0-3 (surrogates aside) comes back as it was."""
    for plane_end in (0xFFFF, 0x1FFFF, 0x2FFFF, 0x3FFFF):
        start = plane_end - 0xFFFF
        text = "".join(
            chr(c) for c in range(start, plane_end + 1) if not (0xD800 <= c <= 0xDFFF or in_ranges(c, BLOCKS))
        )
        assert unify_ideographs(text) == text


@pytest.mark.parametrize(
    "printed,key",
    [
        ("采购项⺫数量", "采购项目数量"),  # a 2019-format header: the radical supplement form of 目
        ("⾏政许可", "licensing"),
        ("（四）⽆法提供", "unable"),
    ],
)
def test_labels_match_once_unified(printed, key):
    """A label holding a look-alike matches as the label it prints."""
    assert L.match(unify_ideographs(printed)).key == key
