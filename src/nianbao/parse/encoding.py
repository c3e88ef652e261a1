"""Bytes -> text with the encoding detected, never assumed: BOMs, UTF-8, a declared charset, GB18030/GBK,
Big5, then charset-normalizer's guess. Shared by the text, HTML and Word readers. Also `unify_ideographs`,
through which the text of text reports (decode_text) and of PDFs (pdf.read_pdf) passes before any label is
matched or cell kept.
"""

from __future__ import annotations

import codecs
import re
import unicodedata
from functools import lru_cache

BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),  # before UTF-16: same first bytes
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
# Words every report prints; a wrong legacy decoding (GBK read as Big5 or back) yields none of them.
KEYWORDS = ("政府", "信息", "公开", "公開", "报告", "報告", "申请", "申請", "情况", "情況", "年度")
LEGACY = ("gb18030", "big5")
# Declared names that GB18030 decodes exactly (it is a superset of GB2312 and GBK).
GB_ALIASES = {"gb2312", "gbk", "x-gbk", "gb_2312-80", "cp936", "euc-cn", "gb18030", "hz-gb-2312"}
BINARY_SAMPLE = 8192
BINARY_CONTROL_SHARE = 0.01
CONTROL_BYTES = bytes(b for b in range(32) if b not in (9, 10, 11, 12, 13, 27))  # not tab, newlines, ESC
_CONTROL_CHARS = frozenset(CONTROL_BYTES.decode("ascii"))
# BOM-less UTF-16: NULs in at least this share of one byte position (the high bytes of ASCII characters),
# and this many times as many as in the other (the low bytes of U+xx00 characters such as 一).
UTF16_NUL_SHARE = 0.02
UTF16_NUL_RATIO = 4
_DECLARED = re.compile(
    rb"""(?:<meta[^>]{0,200}?charset\s*=\s*["']?|<\?xml[^>]{0,100}?encoding\s*=\s*["'])"""
    rb"""([A-Za-z0-9_.:-]{2,40})""",
    re.I,
)
_CJK = re.compile(r"[\u4e00-\u9fff]")


# Radical and compatibility code points stand where a report prints ordinary ideographs: fonts (Noto CJK,
# the fonts government PDFs embed) map a glyph to them in their ToUnicode tables, so a PDF's text layer
# (and text copied from it) reads '⽆' (U+2F46) for 无, '⾏政' (U+2F8F) for 行政. Labels would not match and
# a printed '无' would be kept as '⽆'. Kangxi radicals and compatibility ideographs have NFKC mappings to
# their unified ideographs (for the Kangxi radicals the same as EquivalentUnifiedIdeograph.txt's); the
# whole text is not NFKC'd, which would also turn full-width digits and punctuation into ASCII, where
# cells are kept as printed.
NFKC_RANGES = ((0x2F00, 0x2FDF), (0xF900, 0xFAFF), (0x2F800, 0x2FA1F))  # Kangxi; compatibility ideographs
# CJK Radicals Supplement (U+2E80-U+2EFF) has no NFKC mapping but for U+2E9F and U+2EF3. Pairs of radical
# and unified ideograph, for U+2E81-U+2EF3 as Unicode's EquivalentUnifiedIdeograph.txt (15.1.0) lists them
# (U+2E80 and the unassigned U+2E9A have none there, and stay).
RADICALS_SUPPLEMENT = (
    "⺁厂⺂乛⺃乚⺄乙⺅亻⺆冂⺇𠘨⺈刀⺉刂⺊卜⺋㔾⺌小⺍小⺎兀⺏尣⺐尢⺑𡯂⺒巳⺓幺⺔彑⺕𫜹⺖忄⺗心⺘扌⺙攵⺛旡⺜日⺝月⺞歺⺟母"
    "⺠民⺡氵⺢氺⺣灬⺤爫⺥爫⺦丬⺧牛⺨犭⺩王⺪𤴔⺫目⺬示⺭礻⺮𥫗⺯糹⺰纟⺱罓⺲罒⺳㓁⺴冗⺵𦉫⺶羊⺷𦍌⺸𦍋⺹耂⺺肀⺻聿⺼肉"
    "⺽𦥑⺾艹⺿艹⻀艹⻁虎⻂衤⻃覀⻄西⻅见⻆角⻇𧢲⻈讠⻉贝⻊𧾷⻋车⻌辶⻍辶⻎辶⻏邑⻐钅⻑長⻒镸⻓长⻔门⻕𨸏⻖阝⻗雨⻘青"
    "⻙韦⻚页⻛风⻜飞⻝食⻞𩙿⻟飠⻠饣⻡𩠐⻢马⻣骨⻤鬼⻥鱼⻦鸟⻧卤⻨麦⻩黄⻪黾⻫斉⻬齐⻭歯⻮齿⻯竜⻰龙⻱龜⻲亀⻳龟"
)
_NOT_UNIFIED = re.compile("[\u2e80-\u2fdf\uf900-\ufaff\U0002f800-\U0002fa1f]")  # the four blocks


@lru_cache(maxsize=1)  # built on the first text that needs it (1 ms): most parses never do
def _unified_table() -> dict[int, str]:
    """str.translate table: each radical or compatibility ideograph with a unified equivalent -> that ideograph."""
    table = {c: unicodedata.normalize("NFKC", chr(c)) for lo, hi in NFKC_RANGES for c in range(lo, hi + 1)}
    table = {c: u for c, u in table.items() if u != chr(c)}  # unassigned, and U+FA0E etc. (unified already)
    table.update(zip(map(ord, RADICALS_SUPPLEMENT[0::2]), RADICALS_SUPPLEMENT[1::2]))
    return table


def unify_ideographs(text: str) -> str:
    """`text` with Kangxi radicals, CJK radical supplements and compatibility ideographs as unified ideographs."""
    return text.translate(_unified_table()) if _NOT_UNIFIED.search(text) else text  # most text has none: one scan


class InputError(ValueError):
    """A file we cannot read as a report; `code` is a kebab-case reason code, str() names the file."""

    def __init__(self, code: str, path: str, detail: str):
        super().__init__(f"{code}: {path}: {detail}")
        self.code, self.path, self.detail = code, path, detail


def looks_binary(data: bytes) -> bool:
    """NUL bytes or many control characters at the start (BOM-less UTF-16 too: see utf16_without_bom)."""
    head = data[:BINARY_SAMPLE]
    if b"\x00" in head:
        return True
    control = len(head) - len(head.translate(None, CONTROL_BYTES))
    return control > BINARY_CONTROL_SHARE * len(head)


def _nul_share(half: bytes) -> float:
    """Share of NUL bytes in every other byte of a sample."""
    return half.count(0) / max(len(half), 1)


def utf16_without_bom(data: bytes) -> tuple[str, str] | None:
    """(text, encoding) of UTF-16 text without a BOM (Windows' 'Unicode' text), else None.

    In UTF-16LE every ASCII character (digits, spaces, line breaks: a report has many) is its byte and a
    NUL after it, so NULs stand at odd positions; a CJK character rarely has a NUL byte (一 is 00 4E),
    so the other positions hold few. The whole file must then decode strictly, to Chinese text without
    control characters: binary data (numbers stored as 16-bit integers) has NULs in the same places."""
    head = data[: BINARY_SAMPLE - BINARY_SAMPLE % 2]
    if len(data) % 2 or b"\x00" not in head:
        return None
    even, odd = _nul_share(head[0::2]), _nul_share(head[1::2])
    if max(even, odd) < UTF16_NUL_SHARE or min(even, odd) * UTF16_NUL_RATIO > max(even, odd):
        return None
    enc = "utf-16-le" if odd > even else "utf-16-be"
    text = _try(data, enc)
    if text is None or not _CJK.search(text[:BINARY_SAMPLE]):
        return None
    sample = text[:BINARY_SAMPLE]
    control = sum(1 for c in sample if c in _CONTROL_CHARS)
    return (text, enc) if control <= BINARY_CONTROL_SHARE * len(sample) else None


def declared_charset(data: bytes) -> str | None:
    """The charset an HTML/XML head declares (lower case), or None."""
    m = _DECLARED.search(data[:4096])
    return m.group(1).decode("ascii").lower() if m else None


def _try(data: bytes, enc: str) -> str | None:
    """`data` decoded strictly with `enc`, or None."""
    try:
        return data.decode(enc)
    except (UnicodeDecodeError, LookupError):
        return None


def _score(text: str) -> int:
    """How many report keywords a decoding shows."""
    return sum(text.count(w) for w in KEYWORDS)


def detect(data: bytes, declared: str | None = None) -> tuple[str, str] | None:
    """(text, encoding) or None when no encoding reads the bytes as Chinese text."""
    for bom, enc in BOMS:
        if data.startswith(bom):
            text = _try(data, enc)
            return (text, enc) if text is not None else None
    found = utf16_without_bom(data)  # before UTF-8, which reads the NULs of ASCII characters as NULs
    if found:
        return found
    text = _try(data, "utf-8")
    if text is not None:
        return text, "utf-8"
    if declared:
        enc = "gb18030" if declared in GB_ALIASES else declared
        text = _try(data, enc)
        if text is not None:
            return text, enc
    decoded = [(text, enc) for enc in LEGACY if (text := _try(data, enc)) is not None]
    best = max(decoded, key=lambda d: _score(d[0]), default=None)
    if best and _score(best[0]) > 0:
        return best
    import charset_normalizer  # lazy: rarely needed, and 60 ms of every parser process's start

    guess = charset_normalizer.from_bytes(data).best()
    if guess is not None and guess.encoding:
        text = _try(data, guess.encoding)
        if text is not None and _CJK.search(text):  # a report is Chinese; a Latin reading is a wrong guess
            return text, guess.encoding
    return None


def decoded(data: bytes, path: str, declared: str | None = None) -> tuple[str, str]:
    """(text, encoding) of `data`; raises InputError('undecodable-text') naming `path`."""
    found = detect(data, declared)
    if found is None:
        raise InputError("undecodable-text", path, "无法识别文本编码(不是 UTF-8、GB18030/GBK 或 Big5)")
    return found


def decode(data: bytes, path: str, declared: str | None = None) -> str:
    """The text of `data`; raises InputError('undecodable-text') naming `path`."""
    return decoded(data, path, declared)[0]


def decode_text(data: bytes, path: str) -> str:
    """A plain-text report: binary data is refused before any decoding is tried."""
    if looks_binary(data) and not any(data.startswith(b) for b, _ in BOMS):
        found = utf16_without_bom(data)
        if found is None:
            raise InputError("binary-file", path, "文件含有二进制数据(NUL 或控制字符),不是文本报告")
        return unify_ideographs(found[0])
    return unify_ideographs(decode(data, path))
