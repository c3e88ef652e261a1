"""内容雷同 (R30): report text copied from the agency's own previous report or from another agency's.

Template text comes out first: the format's headings, captions and notes, and any sentence that many
agencies print word for word in a year (a provincial model paragraph), or every pair of reports would
look alike.
What is left of each section is cut into overlapping 5-character shingles (digits read as one digit,
so a report copied with only its year and numbers changed is still a copy).

Two comparisons:
- with the same agency's report of the year before: one comparison per report;
- with the other agencies' reports of the same year: a national year is 150,000 reports, 10^10 pairs,
  so candidates come from MinHash signatures in an LSH index (datasketch).
Both are made year by year from the building blocks below (a year's templates, its signatures, its
candidate pairs), so a caller can hold one year at a time (nianbao.report_text); a candidate is measured
exactly only when the signatures estimate a share near the limit.

The measure is a report's share of its own shingles found in the other report's same section (and
over all sections): a short report pasted into a longer one is a copy for the short one only. A
match is reported from a share of SHARE_LIMIT up; texts of fewer than MIN_SHINGLES shingles after the
templates are not compared (too little to say).
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

from . import schema as S

SHINGLE = 5  # characters per shingle: long enough that common words alone do not match
NUM_PERM = 64  # MinHash permutations: the LSH finds pairs of Jaccard ~0.5 with few misses
# Candidate pairs from an estimated Jaccard of 0.3: a report pasted whole into one three times its
# length has a Jaccard of 1/3 but a share of 1; the exact share decides the finding.
LSH_THRESHOLD = 0.3
SHARE_LIMIT = 0.8
ESTIMATE_MARGIN = 0.25  # pairs whose estimated share is this far below the limit are not measured
MIN_SHINGLES = 100
# A sentence printed by at least this share of the agencies (and at least TEMPLATE_MIN_AGENCIES of
# them) is a template: a model paragraph, not a copy.
TEMPLATE_SHARE = 0.02
TEMPLATE_MIN_AGENCIES = 5
PREVIOUS_YEAR, SAME_YEAR = "previous-year", "same-year"

# What the format itself makes every report print (DOMAIN.md: the six headings, the tables' captions
# and notes); compared after normalisation, so punctuation and spacing do not matter.
FORMAT_TEXT = (
    *S.PART_HEADINGS,
    "本年新收政府信息公开申请数量",
    "上年结转政府信息公开申请数量",
    "第一项加第二项之和等于第三项加第四项之和",
    "本报告中所列数据的统计期限自年月日起至年月日止",
    "本报告所列数据的统计期限自年月日起至年月日止",
)
_SPLIT = re.compile(r"[。！？；!?;\n\r]+")
_NOT_WORD = re.compile(r"[^\w]|_", re.UNICODE)
_NOT_WORD_OR_END = re.compile(r"[^\w\n]|_", re.UNICODE)
_DIGITS = re.compile(r"\d+")
_HASH_MUL = np.uint64(0x9E3779B97F4A7C15)  # odd 64-bit multiplier (Fibonacci hashing)
# The permutations' multipliers (odd) and offsets: fixed, so signatures compare across runs.
_RNG = np.random.default_rng(20211)
PERMUTATIONS = (
    _RNG.integers(1, 1 << 63, NUM_PERM, dtype=np.uint64) | np.uint64(1),
    _RNG.integers(0, 1 << 63, NUM_PERM, dtype=np.uint64),
)


def normalise(sentence: str) -> str:
    """A sentence as compared: no spaces or punctuation, every run of digits one 0 (full-width ones too:
    the regular expressions' digit class is Unicode's; NFKC would add nothing to a comparison)."""
    return _DIGITS.sub("0", _NOT_WORD.sub("", sentence))


def sentences(text: str) -> list[str]:
    """The normalised non-empty sentences of a text (each substitution once over the whole text, sentence
    ends first marked by a newline: per sentence, the regular expressions were a third of the time)."""
    text = _NOT_WORD_OR_END.sub("", _SPLIT.sub("\n", _DIGITS.sub("0", text or "")))
    return [s for s in text.split("\n") if s]


_FORMAT_SENTENCES = frozenset(normalise(t) for t in FORMAT_TEXT)


@dataclass(frozen=True)
class Text:
    """One report's text: its id, the key linking an agency across years, its year, its sections."""

    report_id: str
    agency_key: str
    year: int
    sections: dict[str, str]


@dataclass(frozen=True)
class Match:
    """`report_id` shares `share` of its own text with `other_id` (section key -> share per section)."""

    report_id: str
    other_id: str
    scope: str  # previous-year | same-year
    share: float
    sections: dict[str, float] = field(default_factory=dict)


def split(sections: dict[str, str]) -> dict[str, list[str]]:
    """Each section's normalised sentences."""
    return {k: sentences(body) for k, body in sections.items()}


def sentence_hashes(parts: dict[str, list[str]]) -> np.ndarray:
    """The distinct sentences of a report, hashed (what the template counts read)."""
    return np.fromiter({hash(s) for found in parts.values() for s in found}, np.int64)


@dataclass(frozen=True)
class Templates:
    """The sentences not compared: the format's own, and those printed by at least `floor` agencies of
    the year (sentence hash -> agencies; Python's str hash: one process, or workers forked from it)."""

    counts: dict[int, int]
    floor: float

    def __contains__(self, sentence: str) -> bool:
        return sentence in _FORMAT_SENTENCES or self.counts.get(hash(sentence), 0) >= self.floor


def count_templates(hashes: Iterable[np.ndarray], agency_keys: Iterable[str]) -> Templates:
    """The templates of one year from each report's sentence hashes and agency: arrays of (hash, agency)
    pairs, not a set per sentence (150,000 reports print some 7 million distinct sentences)."""
    agency_ids: dict[str, int] = {}
    pairs_h: list[np.ndarray] = []
    pairs_a: list[np.ndarray] = []
    for own, key in zip(hashes, agency_keys):
        pairs_h.append(own)
        pairs_a.append(np.full(len(own), agency_ids.setdefault(key, len(agency_ids)), np.int64))
    floor = max(TEMPLATE_MIN_AGENCIES, TEMPLATE_SHARE * len(agency_ids))
    if not pairs_h:
        return Templates({}, floor)
    pairs = np.unique(np.stack([np.concatenate(pairs_h), np.concatenate(pairs_a)]), axis=1)
    values, counts = np.unique(pairs[0], return_counts=True)
    common = counts >= TEMPLATE_MIN_AGENCIES  # only these can be templates: keep the dict small
    return Templates(dict(zip(values[common].tolist(), counts[common].tolist())), floor)


def template_sentences(texts: Iterable[Text]) -> frozenset[str]:
    """The format's own sentences and those printed by many of these texts' agencies."""
    texts = list(texts)
    parts = [split(t.sections) for t in texts]
    templates = count_templates((sentence_hashes(p) for p in parts), (t.agency_key for t in texts))
    found = {s for p in parts for found in p.values() for s in found if s in templates}
    return _FORMAT_SENTENCES | frozenset(found)


def shingles(text: str) -> np.ndarray:
    """Sorted unique 32-bit hashes of the SHINGLE-character windows of a normalised text."""
    codes = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
    if len(codes) < SHINGLE:
        return np.empty(0, np.uint32)
    h = np.zeros(len(codes) - SHINGLE + 1, np.uint64)
    for i in range(SHINGLE):  # polynomial hash of each window, wrapping at 2^64
        h = h * _HASH_MUL + codes[i : len(codes) - SHINGLE + 1 + i]
    return np.unique((h >> np.uint64(32)).astype(np.uint32))


def _section_shingles(parts: dict[str, list[str]], templates: Templates) -> dict[str, np.ndarray]:
    """Each section's shingles, its template sentences left out (sentences joined: a copy keeps their order)."""
    return {k: shingles("".join(s for s in found if s not in templates)) for k, found in parts.items()}


def _whole(sections: dict[str, np.ndarray]) -> np.ndarray:
    return np.unique(np.concatenate(list(sections.values()))) if sections else np.empty(0, np.uint32)


def _share(own: np.ndarray, other: np.ndarray) -> float:
    if not len(own):
        return 0.0
    return len(np.intersect1d(own, other, assume_unique=True)) / len(own)


def measure(a: Text, b: Text, scope: str, templates: Templates, limit: float = SHARE_LIMIT) -> Match | None:
    """The match of a with b when at least `limit` of a's text is in b (shingles recomputed: only
    candidates get here, and keeping every report's shingles would cost gigabytes at national scale)."""
    own_sections = _section_shingles(split(a.sections), templates)
    own = _whole(own_sections)
    if len(own) < MIN_SHINGLES:
        return None
    other_sections = _section_shingles(split(b.sections), templates)
    total = _share(own, _whole(other_sections))
    if total < limit:
        return None
    empty = np.empty(0, np.uint32)
    per_section = {k: round(_share(v, other_sections.get(k, empty)), 3) for k, v in own_sections.items() if len(v)}
    return Match(a.report_id, b.report_id, scope, round(total, 3), per_section)


def signature(parts: dict[str, list[str]], templates: Templates) -> tuple[np.ndarray | None, int]:
    """A report's MinHash signature (NUM_PERM values) and shingle count; None under MIN_SHINGLES.

    One shingling of the whole kept text (parts joined by a separator): per part, numpy's calls on small
    arrays cost more than their work. Each permutation is a multiply-shift hash applied to all shingles
    at once (datasketch's MinHash.update_batch hashes value by value in Python)."""
    kept = ("".join(s for s in found if s not in templates) for found in parts.values())
    values = shingles("\x00".join(kept))
    if len(values) < MIN_SHINGLES:
        return None, len(values)
    a, b = PERMUTATIONS
    return ((values.astype(np.uint64)[:, None] * a + b) >> np.uint64(32)).min(axis=0), len(values)


@dataclass
class Year:
    """One year's reports with text: ids and agency keys in order, and the signature of each report with
    enough text (row of `matrix`; -1 without)."""

    year: int
    ids: list[str]
    keys: list[str]
    rows: np.ndarray
    matrix: np.ndarray
    sizes: np.ndarray

    @classmethod
    def of(cls, year: int, ids: list[str], keys: list[str], signed: list[tuple[np.ndarray | None, int]]) -> Year:
        rows = np.full(len(ids), -1, np.int64)
        kept = [i for i, (sig, _) in enumerate(signed) if sig is not None]
        rows[kept] = np.arange(len(kept))
        matrix = np.array([signed[i][0] for i in kept], np.uint64).reshape(len(kept), NUM_PERM)
        return cls(year, ids, keys, rows, matrix, np.array([signed[i][1] for i in kept], dtype=float))

    def unique_keys(self) -> dict[str, int]:
        """Agency key -> index, for the keys held by one report of the year only."""
        seen: dict[str, int] = {}
        twice: set[str] = set()
        for i, key in enumerate(self.keys):
            if key in seen:
                twice.add(key)
            seen[key] = i
        return {k: i for k, i in seen.items() if k not in twice}


def _likely(a: Year, ia: np.ndarray, b: Year, ib: np.ndarray, limit: float) -> np.ndarray:
    """Which pairs (a's report ia[k], b's report ib[k]) the signatures estimate near the limit or above:
    a's share of its shingles in b's through the Jaccard J they estimate, |A ∩ B| = J (|A| + |B|) / (1 + J);
    in blocks, so that the rows compared at once stay small."""
    keep = np.zeros(len(ia), bool)
    for lo in range(0, len(ia), 100_000):
        ra, rb = a.rows[ia[lo : lo + 100_000]], b.rows[ib[lo : lo + 100_000]]
        j = (a.matrix[ra] == b.matrix[rb]).mean(axis=1)
        shares = j * (a.sizes[ra] + b.sizes[rb]) / ((1 + j) * a.sizes[ra])
        keep[lo : lo + 100_000] = shares >= limit - ESTIMATE_MARGIN
    return keep


def previous_candidates(cur: Year, prev: Year, limit: float = SHARE_LIMIT) -> list[tuple[int, int]]:
    """(report of cur, its agency's report of prev) worth measuring: each key held once in both years
    (a key held twice links nothing), both signed, and the estimate near the limit or above."""
    before = prev.unique_keys()
    pairs = [(i, before[key]) for key, i in cur.unique_keys().items() if key in before]
    ia = np.array([i for i, _ in pairs], np.int64)
    ib = np.array([j for _, j in pairs], np.int64)
    signed = (cur.rows[ia] >= 0) & (prev.rows[ib] >= 0)
    ia, ib = ia[signed], ib[signed]
    keep = _likely(cur, ia, prev, ib, limit)
    return sorted(zip(ia[keep].tolist(), ib[keep].tolist()))


def same_year_candidates(year: Year, limit: float = SHARE_LIMIT) -> list[tuple[int, int]]:
    """(report, another agency's report of the same year) worth measuring, both ways: candidates from a
    MinHash LSH index (datasketch), each report queried before it is inserted (a pair is found once),
    then the signatures' estimate near the limit or above."""
    from datasketch import LeanMinHash, MinHashLSH

    lsh = MinHashLSH(threshold=LSH_THRESHOLD, num_perm=NUM_PERM)
    found: list[tuple[int, int]] = []
    for i in np.flatnonzero(year.rows >= 0).tolist():
        sig = LeanMinHash(seed=1, hashvalues=year.matrix[year.rows[i]])
        found.extend((i, j) for j in lsh.query(sig) if year.keys[j] != year.keys[i])
        lsh.insert(i, sig)
    pairs = np.array(found, np.int64).reshape(-1, 2)
    both = np.concatenate([pairs, pairs[:, ::-1]])
    keep = _likely(year, both[:, 0], year, both[:, 1], limit)
    return sorted(map(tuple, both[keep].tolist()))


def matches(texts: list[Text], limit: float = SHARE_LIMIT) -> list[Match]:
    """Every report whose text is at least `limit` the same as its agency's previous report or another
    agency's report of the same year; agency keys shared by two reports of one year are not linked.

    Year by year (templates are the year's): every report gets a MinHash signature once; a pair is
    measured exactly only when the signatures estimate a share within ESTIMATE_MARGIN of the limit (64
    permutations: a standard error of about 0.06 on the Jaccard)."""
    by_year: dict[int, list[Text]] = defaultdict(list)
    for t in texts:
        by_year[t.year].append(t)
    found: list[Match] = []
    prev: tuple[Year, list[Text]] | None = None
    for y in sorted(by_year):
        these = by_year[y]
        parts = [split(t.sections) for t in these]
        templates = count_templates((sentence_hashes(p) for p in parts), (t.agency_key for t in these))
        year = Year.of(
            y, [t.report_id for t in these], [t.agency_key for t in these], [signature(p, templates) for p in parts]
        )
        if prev is not None and prev[0].year == y - 1:
            for i, j in previous_candidates(year, prev[0], limit):
                found.extend(m for m in [measure(these[i], prev[1][j], PREVIOUS_YEAR, templates, limit)] if m)
        for i, j in same_year_candidates(year, limit):
            found.extend(m for m in [measure(these[i], these[j], SAME_YEAR, templates, limit)] if m)
        prev = (year, these)
    return found
