"""内容雷同 (R30) at national scale: time and memory of nianbao.similarity.matches on one year.

Synthetic texts: each report six sections of sentences drawn from a large pool (so two reports share
little by chance) plus a few model sentences every report prints (templates); one report in a hundred
is a copy of another agency's. Prints reports, seconds, peak memory, matches found and copies
injected (recall of the copies, and matches that are not copies). Asserts nothing.

    python3 benchmarks/similarity.py [--reports 150000] [--seed 1]
"""

from __future__ import annotations

import argparse
import resource
import time

import numpy as np

from nianbao import similarity as SIM


def pool(rng: np.random.Generator, n: int) -> list[str]:
    """n made-up Chinese sentences of 15–40 characters."""
    lengths = rng.integers(15, 41, n)
    codes = rng.integers(0x4E00, 0x4E00 + 3000, int(lengths.sum()), dtype=np.uint32)
    text = codes.tobytes().decode("utf-32-le")
    ends = np.cumsum(lengths)
    return [text[e - k : e] for e, k in zip(ends, lengths)]


def corpus(n: int, seed: int) -> tuple[list[SIM.Text], set[tuple[str, str]]]:
    rng = np.random.default_rng(seed)
    sentences = pool(rng, 400_000)
    model = sentences[:40]  # a province's model sentences: templates once many agencies print them
    picks = rng.integers(40, len(sentences), (n, 6, 6))
    shared = rng.integers(0, 40, (n, 6, 2))
    texts = []
    for i in range(n):
        sections = {
            f"s{s + 1}": "。".join([*(model[j] for j in shared[i, s]), *(sentences[j] for j in picks[i, s])]) + "。"
            for s in range(6)
        }
        texts.append(SIM.Text(f"R{i:07d}", f"agency-{i}", 2024, sections))
    copies = set()
    chosen = rng.permutation(n)[: 2 * (n // 100)]  # copies and their sources apart: no copy of a copy
    for dst, src in zip(chosen[: n // 100], chosen[n // 100 :]):
        texts[dst] = SIM.Text(texts[dst].report_id, texts[dst].agency_key, 2024, dict(texts[src].sections))
        copies |= {(texts[dst].report_id, texts[src].report_id), (texts[src].report_id, texts[dst].report_id)}
    return texts, copies


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reports", type=int, default=150_000)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    t0 = time.perf_counter()
    texts, copies = corpus(args.reports, args.seed)
    made = time.perf_counter() - t0
    t1 = time.perf_counter()
    found = {(m.report_id, m.other_id) for m in SIM.matches(texts)}
    took = time.perf_counter() - t1
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"reports {args.reports:,}  corpus made in {made:.1f} s")
    print(f"R30 matches: {took:.1f} s ({took / args.reports * 1e3:.2f} ms a report), peak memory {peak:,.0f} MB")
    print(f"copy pairs injected {len(copies):,}; found {len(found & copies):,}; other matches {len(found - copies):,}")


if __name__ == "__main__":
    main()
