"""Agency page keys (nianbao.page_cache): what changes a page changes its key, what changes every run
does not; an unchanged page is the last build's file, and its result time is carried."""

from __future__ import annotations

import pandas as pd
import pyarrow as pa
import pytest

from nianbao import localise, page_cache

A, B = "R00000000000000AA", "R00000000000000BB"
RUN0, RUN1, RUN2 = (f"202612{d:02d}T000000000000Z-nightly" for d in (1, 2, 3))


def findings(run: str, **change) -> pd.DataFrame:
    rows = [
        (A, "R1.total", "s1", "总计不符", "persisting"),
        (A, "R3.x", "s2", "结转不符", "persisting"),
        (B, "R1.total", "s1", "总计不符", "new"),
    ]
    rows = [dict(zip(("report_id", "rule_id", "suite", "message", "history"), r), run_id=run) for r in rows]
    frame = pd.DataFrame(rows).assign(last_seen=run, carried=run == RUN2)
    for column, value in change.items():
        frame.loc[0, column] = value
    return frame


def history(run: str, **change) -> pd.DataFrame:
    frame = pd.DataFrame(
        {
            "fingerprint": [f"{A}:R1.total", f"{A}:R3.x", f"{A}:R9.old", f"{B}:R1.total"],
            "report_id": [A, A, A, B],
            "rule_id": ["R1.total", "R3.x", "R9.old", "R1.total"],
            "first_seen": [RUN0, RUN0, RUN0, RUN1],
            "last_seen": [run, run, RUN0, run],  # R9.old was resolved in RUN1
            "resolved_at": [None, None, RUN1, None],
            "reopened": ["", "", "", ""],
        }
    )
    for column, value in change.items():
        frame.loc[0, column] = value
    return frame


def diagnoses(proposed: int = 7) -> pa.Table:
    row = dict.fromkeys(localise.DIAGNOSES_SCHEMA.names)
    row.update(run_id="x", report_id=A, solution=1, solutions=1, ambiguous=False, capped=False, best=True)
    row.update(table="applications", cell="total_person", printed=6, proposed=proposed, weight=1.0, solver=False)
    return pa.Table.from_pylist([row], schema=localise.DIAGNOSES_SCHEMA)


def cache(run: str, *, base="state", content=None, state=None, **kw) -> page_cache.PageCache:
    content = content or {A: "m|t|x", B: "m|t|y"}
    return page_cache.PageCache(
        base=base,
        now=f"{run}-time",
        hashes=lambda ids: {r: content[r] for r in ids if r in content},
        run_id=run,
        history=history(run) if state is None else state,
        **kw,
    )


def keys(c: page_cache.PageCache, found: pd.DataFrame, resolved=None, diag=None, suites=("s1", "s2")) -> dict:
    resolved = found.iloc[:0] if resolved is None else resolved
    return c.keys([A, B], found, resolved, diagnoses() if diag is None else diag, suites)


BEFORE = keys(cache(RUN1), findings(RUN1))


def test_what_changes_every_run_leaves_the_keys_alone():
    """Tonight's run id, last seen, carried, and an open finding's last run in the history."""
    assert keys(cache(RUN2), findings(RUN2)) == BEFORE


@pytest.mark.parametrize(
    "tonight",
    [
        pytest.param(lambda: keys(cache(RUN2), findings(RUN2, message="总计与分项之和不符")), id="finding message"),
        pytest.param(lambda: keys(cache(RUN2), findings(RUN2, history="new")), id="new or persisting"),
        pytest.param(lambda: keys(cache(RUN2), findings(RUN2).iloc[[1, 0, 2]]), id="finding order"),
        pytest.param(lambda: keys(cache(RUN2), findings(RUN2).iloc[1:]), id="a finding gone"),
        pytest.param(lambda: keys(cache(RUN2), findings(RUN2), resolved=findings(RUN2).iloc[:1]), id="resolved"),
        pytest.param(lambda: keys(cache(RUN2), findings(RUN2), diag=diagnoses(8)), id="diagnosis"),
        pytest.param(lambda: keys(cache(RUN2), findings(RUN2), suites=("s2",)), id="GX page of a suite"),
        pytest.param(lambda: keys(cache(RUN2, state=history(RUN2, reopened=RUN2)), findings(RUN2)), id="history"),
        pytest.param(lambda: keys(cache(RUN2, content={A: "m|t2|x", B: "m|t|y"}), findings(RUN2)), id="report rows"),
        pytest.param(lambda: keys(cache(RUN2, base="other"), findings(RUN2)), id="code or suites"),
    ],
)
def test_what_a_page_shows_changes_its_key(tonight):
    now = tonight()
    assert now[A] != BEFORE[A]


def test_a_report_without_content_hashes_has_no_key():
    got = keys(cache(RUN2, content={B: "m|t|y"}), findings(RUN2))
    assert got[A] is None and got[B] == BEFORE[B]


def test_an_unchanged_page_is_linked_and_keeps_its_time(tmp_path):
    old, new = tmp_path / "old", tmp_path / "new"
    old.mkdir(), new.mkdir()
    (old / f"{A}.html").write_text("page A", encoding="utf-8")  # B's file is missing from the last build
    before = {A: (BEFORE[A], "t1"), B: (BEFORE[B], "t1")}
    c = cache(RUN2, before=before, pages_before=old)
    got = keys(c, findings(RUN2))
    assert c.link(A, got[A], new / f"{A}.html")
    assert (new / f"{A}.html").stat().st_ino == (old / f"{A}.html").stat().st_ino
    assert not c.link(B, got[B], new / f"{B}.html") and c.since(B, got[B]) == "t1"
    changed = keys(c, findings(RUN2, message="改了"))
    assert not c.link(A, changed[A], new / "other.html") and c.since(A, changed[A]) == f"{RUN2}-time"
    table = c.table()
    assert table.to_pylist() == [
        {"report_id": A, "key": changed[A], "since": f"{RUN2}-time"},
        {"report_id": B, "key": got[B], "since": "t1"},
    ]
    assert c.linked == 1


def test_the_last_runs_keys_are_read_back_and_a_damaged_file_is_none(tmp_path):
    import pyarrow.parquet as pq

    c = cache(RUN1)
    c.since(A, BEFORE[A])
    pq.write_table(c.table(), tmp_path / page_cache.PAGES_FILE)
    assert page_cache.read(tmp_path) == {A: (BEFORE[A], f"{RUN1}-time")}
    (tmp_path / page_cache.PAGES_FILE).write_bytes(b"not parquet")
    assert page_cache.read(tmp_path) == {} and page_cache.read(None) == {}


def test_a_report_keeps_its_key_whatever_else_is_in_its_chunk():
    """Another report's blank cell made pandas turn the chunk's integers into floats (17 → 17.0), and
    the key of every page in it changed from one night to the next."""
    blank = diagnoses().to_pylist()[0] | {"report_id": B, "proposed": None}
    with_blank = pa.concat_tables([diagnoses(), pa.Table.from_pylist([blank], schema=localise.DIAGNOSES_SCHEMA)])
    assert keys(cache(RUN2), findings(RUN2), diag=with_blank)[A] == BEFORE[A]
