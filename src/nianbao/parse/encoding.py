"""Bytes -> text with the encoding detected, never assumed: BOMs, UTF-8, a declared charset, GB18030/GBK,
Big5, then charset-normalizer's guess. Shared by the text, HTML and Word readers.
"""
from __future__ import annotations

import codecs
import re

BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"),   # before UTF-16: same first bytes
    (codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"),
)
# Words every report prints; a wrong legacy decoding (GBK read as Big5 or back) yields none of them.
KEYWORDS = ("政府", "信息", "公开", "公開", "报告", "報告", "申请", "申請", "情况", "情況", "年度")
LEGACY = ("gb18030", "big5")
# Declared names that GB18030 decodes exactly (it is a superset of GB2312 and GBK).
GB_ALIASES = {"gb2312", "gbk", "x-gbk", "gb_2312-80", "cp936", "euc-cn", "gb18030", "hz-gb-2312"}
BINARY_SAMPLE = 8192
BINARY_CONTROL_SHARE = 0.01
CONTROL_BYTES = bytes(b for b in range(32) if b not in (9, 10, 11, 12, 13, 27))   # not tab, newlines, ESC
_DECLARED = re.compile(rb"""(?:<meta[^>]{0,200}?charset\s*=\s*["']?|<\?xml[^>]{0,100}?encoding\s*=\s*["'])"""
                       rb"""([A-Za-z0-9_.:-]{2,40})""", re.I)
_CJK = re.compile(r"[\u4e00-\u9fff]")


class InputError(ValueError):
    """A file we cannot read as a report; `code` is a kebab-case reason code, str() names the file."""

    def __init__(self, code: str, path: str, detail: str):
        super().__init__(f"{code}: {path}: {detail}")
        self.code, self.path, self.detail = code, path, detail


def looks_binary(data: bytes) -> bool:
    """NUL bytes or many control characters at the start (BOM-less UTF-16 included)."""
    head = data[:BINARY_SAMPLE]
    if b"\x00" in head:
        return True
    control = len(head) - len(head.translate(None, CONTROL_BYTES))
    return control > BINARY_CONTROL_SHARE * len(head)


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
    import charset_normalizer   # lazy: rarely needed, and 60 ms of every parser process's start

    guess = charset_normalizer.from_bytes(data).best()
    if guess is not None and guess.encoding:
        text = _try(data, guess.encoding)
        if text is not None and _CJK.search(text):   # a report is Chinese; a Latin reading is a wrong guess
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
        raise InputError("binary-file", path, "文件含有二进制数据(NUL 或控制字符),不是文本报告")
    return decode(data, path)
