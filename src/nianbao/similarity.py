"""内容雷同 (R30): report text copied from the agency's own previous report or from another agency's.

Template text comes out first: the format's headings, captions and notes, and any sentence that many
agencies print word for word (a provincial model paragraph), or every pair of reports would look alike.
What is left of each section is cut into overlapping 5-character shingles (digits read as one digit,
so a report copied with only its year and numbers changed is still a copy).

Two comparisons:
- with the same agency's report of the year before: one exact comparison per report;
- with the other agencies' reports of the same year: a national year is 150,000 reports, 10^10 pairs,
  so candidates come from MinHash signatures in an LSH index (datasketch) and only candidates are
  measured exactly.

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
    """The normalised non-empty sentences of a text (digits replaced once for the whole text: per
    sentence, the regular expressions were a third of the time)."""
    text = _DIGITS.sub("0", text or "")
    return [s for s in (_NOT_WORD.sub("", part) for part in _SPLIT.split(text)) if s]


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


def template_sentences(texts: Iterable[Text]) -> frozenset[str]:
    """The format's own sentences and those printed by many agencies."""
    texts = list(texts)
    counts = _template_counts(texts)
    floor = _template_floor(texts)
    found = {
        s for t in texts for body in t.sections.values() for s in sentences(body) if counts.get(hash(s), 0) >= floor
    }
    return _FORMAT_SENTENCES | frozenset(found)


def _template_floor(texts: list[Text]) -> float:
    return max(TEMPLATE_MIN_AGENCIES, TEMPLATE_SHARE * len({t.agency_key for t in texts}))


def _split(t: Text) -> dict[str, list[str]]:
    return {k: sentences(body) for k, body in t.sections.items()}


def _template_counts(texts: list[Text], split: dict[str, dict[str, list[str]]] | None = None) -> dict[int, int]:
    """Sentence hash -> how many agencies print it: arrays of (hash, agency) pairs, not a set per sentence
    (150,000 reports print some 7 million distinct sentences)."""
    agency_ids: dict[str, int] = {}
    hashes: list[np.ndarray] = []
    owners: list[np.ndarray] = []
    for t in texts:
        parts = split[t.report_id] if split is not None else _split(t)
        own = np.fromiter({hash(s) for found in parts.values() for s in found}, np.int64)
        hashes.append(own)
        owners.append(np.full(len(own), agency_ids.setdefault(t.agency_key, len(agency_ids)), np.int64))
    if not hashes:
        return {}
    pairs = np.unique(np.stack([np.concatenate(hashes), np.concatenate(owners)]), axis=1)
    values, counts = np.unique(pairs[0], return_counts=True)
    common = counts >= TEMPLATE_MIN_AGENCIES  # only these can be templates: keep the dict small
    return dict(zip(values[common].tolist(), counts[common].tolist()))


def shingles(text: str) -> np.ndarray:
    """Sorted unique 32-bit hashes of the SHINGLE-character windows of a normalised text."""
    codes = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
    if len(codes) < SHINGLE:
        return np.empty(0, np.uint32)
    h = np.zeros(len(codes) - SHINGLE + 1, np.uint64)
    for i in range(SHINGLE):  # polynomial hash of each window, wrapping at 2^64
        h = h * _HASH_MUL + codes[i : len(codes) - SHINGLE + 1 + i]
    return np.unique((h >> np.uint64(32)).astype(np.uint32))


def _section_shingles(split: dict[str, list[str]], is_template) -> dict[str, np.ndarray]:
    """Each section's shingles, its template sentences left out (sentences joined: a copy keeps their order)."""
    return {k: shingles("".join(s for s in found if not is_template(s))) for k, found in split.items()}


def _whole(sections: dict[str, np.ndarray]) -> np.ndarray:
    return np.unique(np.concatenate(list(sections.values()))) if sections else np.empty(0, np.uint32)


def _share(own: np.ndarray, other: np.ndarray) -> float:
    if not len(own):
        return 0.0
    return len(np.intersect1d(own, other, assume_unique=True)) / len(own)


def _match(a: Text, b: Text, scope: str, limit: float, is_template) -> Match | None:
    """The match of a with b when at least `limit` of a's text is in b (shingles recomputed: only
    candidates get here, and keeping every report's shingles would cost gigabytes at national scale)."""
    own_sections = _section_shingles(_split(a), is_template)
    own = _whole(own_sections)
    if len(own) < MIN_SHINGLES:
        return None
    other_sections = _section_shingles(_split(b), is_template)
    total = _share(own, _whole(other_sections))
    if total < limit:
        return None
    empty = np.empty(0, np.uint32)
    per_section = {k: round(_share(v, other_sections.get(k, empty)), 3) for k, v in own_sections.items() if len(v)}
    return Match(a.report_id, b.report_id, scope, round(total, 3), per_section)


def _minhash(values: np.ndarray, permutations: tuple[np.ndarray, np.ndarray]):
    """A MinHash signature (datasketch's LeanMinHash, for its LSH index) of 32-bit shingle hashes, each
    permutation a multiply-shift hash applied to all values at once (MinHash.update_batch hashes value
    by value in Python, and its modulo a prime is the slow half of the arithmetic)."""
    from datasketch import LeanMinHash

    a, b = permutations
    hashed = (values.astype(np.uint64)[:, None] * a + b) >> np.uint64(32)
    return LeanMinHash(seed=1, hashvalues=hashed.min(axis=0))


def _estimated_shares(own: np.ndarray, others: np.ndarray, size: int, sizes: np.ndarray) -> np.ndarray:
    """A report's share of its shingles in each other report's, estimated from MinHash signatures (one
    row each) through the Jaccard J they estimate: |A ∩ B| = J (|A| + |B|) / (1 + J)."""
    j = (others == own).mean(axis=1)
    return j * (size + sizes) / ((1 + j) * size)


def matches(texts: list[Text], limit: float = SHARE_LIMIT) -> list[Match]:
    """Every report whose text is at least `limit` the same as its agency's previous report or another
    agency's report of the same year; agency keys shared by two reports of one year are not linked.

    Every report gets a MinHash signature once; a pair is measured exactly only when the signatures
    estimate a share within ESTIMATE_MARGIN of the limit (64 permutations: a standard error of about
    0.06 on the Jaccard), so a national year costs its signatures and a few exact comparisons."""
    from datasketch import MinHashLSH

    # Sentences are split twice (for the templates, then for the signatures) rather than kept: kept, they
    # took more memory than the texts (measured: 318 MB against 465 MB at 20,000 reports, 15 % more time).
    counts, floor = _template_counts(texts), _template_floor(texts)

    def is_template(sentence: str) -> bool:
        return sentence in _FORMAT_SENTENCES or counts.get(hash(sentence), 0) >= floor

    by_id = {t.report_id: t for t in texts}
    row: dict[str, int] = {}  # report id -> its row of the signature matrix
    signatures, sizes = [], []
    for t in texts:
        # One shingling of the whole kept text (parts joined by a separator): per part, numpy's calls on
        # small arrays cost more than their work; the parts' own shares are measured for matches only.
        kept = ("".join(s for s in found if not is_template(s)) for found in _split(t).values())
        values = shingles("\x00".join(kept))
        if len(values) >= MIN_SHINGLES:
            row[t.report_id] = len(signatures)
            signatures.append(_minhash(values, PERMUTATIONS))
            sizes.append(len(values))
    matrix = np.array([m.hashvalues for m in signatures]) if signatures else np.zeros((0, NUM_PERM), np.uint64)
    size = np.array(sizes, dtype=float)

    def likely(rid: str, others: list[str]) -> list[str]:
        """The others whose signatures estimate a share of rid's text near the limit or above."""
        if not others:
            return []
        i, js = row[rid], np.array([row[o] for o in others])
        shares = _estimated_shares(matrix[i], matrix[js], size[i], size[js])
        return [o for o, share in zip(others, shares) if share >= limit - ESTIMATE_MARGIN]

    by_key_year: dict[tuple[str, int], list[str]] = defaultdict(list)
    for t in texts:
        by_key_year[(t.agency_key, t.year)].append(t.report_id)
    found: list[Match] = []
    for t in texts:
        previous = by_key_year.get((t.agency_key, t.year - 1), [])
        if t.report_id not in row or len(previous) != 1 or len(by_key_year[(t.agency_key, t.year)]) != 1:
            continue
        for other in likely(t.report_id, [p for p in previous if p in row]):
            m = _match(t, by_id[other], PREVIOUS_YEAR, limit, is_template)
            if m:
                found.append(m)

    by_year: dict[int, list[str]] = defaultdict(list)
    for t in texts:
        if t.report_id in row:
            by_year[t.year].append(t.report_id)
    for year_ids in by_year.values():
        lsh = MinHashLSH(threshold=LSH_THRESHOLD, num_perm=NUM_PERM)
        for rid in year_ids:
            lsh.insert(rid, signatures[row[rid]])
        for rid in year_ids:
            key = by_id[rid].agency_key
            others = sorted(o for o in lsh.query(signatures[row[rid]]) if o != rid and by_id[o].agency_key != key)
            for oid in likely(rid, others):
                m = _match(by_id[rid], by_id[oid], SAME_YEAR, limit, is_template)
                if m:
                    found.append(m)
    return found
