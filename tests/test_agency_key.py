"""build_keys (DuckDB over distinct pairs) computes what link() states report by report.

link() is the semantics in plain Python; build_keys keys each distinct (agency, region) pair once and
joins and checks in SQL. Both run here on the same reports: a table of the tricky cases, and tables
drawn at random from names and regions that fit, miss and collide with each other.
"""

from __future__ import annotations

import duckdb
import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from nianbao import agency_key as K

TRICKY = [
    # region written in the name, as a tail of its divisions, or not at all
    ("淮安市洪泽区财政局", "淮安市洪泽区", 2022),
    ("洪泽区财政局", "淮安市洪泽区", 2023),
    ("财政局", "淮安市洪泽区", 2024),
    ("江苏省淮安市洪泽区财政局", "江苏省淮安市洪泽区", 2022),
    ("洪泽区财政局", "江苏省淮安市洪泽区", 2023),
    # full-width letters, spaces (in the name and the region), 办公厅 = 办公室
    ("ＡＢＣ开发区管委会", "淮安市洪泽区", 2022),
    ("ABC开发区 管委会", " 淮安市洪泽区", 2023),
    ("某市人民政府办公厅", "浙江省温州市", 2021),
    ("某市人民政府办公室", "浙江省温州市", 2022),
    # no region, the region read from the name
    ("淮安市洪泽区财政局", None, 2021),
    # no region, the name fits one region's agency (税务局 of 淮安市洪泽区) ...
    ("税务局", "淮安市洪泽区", 2021),
    ("洪泽区税务局", None, 2022),
    ("洪泽区税务局", "", 2023),
    # ... and, taking its key, collides with that agency's report of the same year
    ("洪泽区住建局", None, 2022),
    ("住建局", "淮安市洪泽区", 2022),
    # no region, the name fits two regions' agencies (twice in one year: still TWO_AGENCIES)
    ("教育局", "北京市朝阳区", 2022),
    ("教育局", "长春市朝阳区", 2022),
    ("朝阳区教育局", None, 2023),
    ("朝阳区教育局", "", 2023),
    # no region, the name fits nothing
    ("某某中心", None, 2022),
    ("某某中心", None, 2023),
    # the same key twice in one year (and once in another year, and once without a year)
    ("交通运输局", "浙江省温州市", 2021),
    ("交通运输局", "浙江省温州市", 2022),
    ("温州市交通运输局", "浙江省温州市", 2022),
    ("交通运输局", "浙江省温州市", None),
    # two reports without a year: never the same year
    ("水利局", "浙江省温州市", None),
    ("水利局", "浙江省温州市", None),
    # no agency name: no key, never ambiguous
    (None, "浙江省温州市", 2022),
    (None, "浙江省温州市", 2022),
    ("  ", "浙江省温州市", 2022),
    (None, None, None),
]


def _both(rows):
    """link()'s keys and ambiguous list, and build_keys' table and what it returns, on the same reports."""
    reports = [K.Report(f"R{i:03d}", a, r, y) for i, (a, r, y) in enumerate(rows)]
    con = duckdb.connect()
    con.register(
        "reports_arrow",
        pa.table(
            {
                "report_id": pa.array([r.report_id for r in reports], pa.string()),
                "agency": pa.array([r.agency for r in reports], pa.string()),
                "region": pa.array([r.region for r in reports], pa.string()),
                "year": pa.array([r.year for r in reports], pa.int32()),
            }
        ),
    )
    con.execute("CREATE TABLE nb_reports AS SELECT * FROM reports_arrow")
    built = K.build_keys(con, "nb_", "agency_keys")
    table = dict(con.execute("SELECT report_id, agency_key FROM nb_agency_keys").fetchall())
    assert len(table) == con.execute("SELECT count(*) FROM nb_agency_keys").fetchall()[0][0] == len(reports)
    return K.link(reports), table, built


def test_sql_and_python_agree_on_the_tricky_cases():
    links, table, built = _both(TRICKY)
    assert table == links.keys
    assert built["ambiguous"] == links.ambiguous
    assert built["linked_reports"] == sum(k is not None for k in links.keys.values())
    # the table exercises every case it names (so agreement is not agreement on nothing)
    reasons = {a["report_id"]: a["reason"] for a in links.ambiguous}
    assert set(reasons.values()) == {K.SAME_YEAR, K.TWO_AGENCIES}
    assert reasons["R017"] == reasons["R018"] == K.TWO_AGENCIES
    assert reasons["R013"] == reasons["R014"] == K.SAME_YEAR  # a name without region, its key taken
    assert reasons["R022"] == reasons["R023"] == K.SAME_YEAR
    assert links.keys["R011"] == links.keys["R012"] == links.keys["R010"] is not None
    assert links.keys["R005"] == links.keys["R006"] is not None
    assert links.keys["R007"] == links.keys["R008"] is not None
    assert links.keys["R019"] == links.keys["R020"] == "|某某中心"
    assert links.keys["R024"] is not None and links.keys["R025"] == links.keys["R026"] is not None
    assert all(links.keys[f"R{i:03d}"] is None for i in (27, 28, 29, 30))


AGENCIES = ["财政局", "洪泽区财政局", "淮安市洪泽区财政局", "朝阳区财政局", "北京市朝阳区财政局", "财政 局"]
AGENCIES += ["人民政府办公厅", "人民政府办公室", "ＡＢＣ局", "ABC局", "  ", None]
REGIONS = [None, "", "淮安市洪泽区", "江苏省淮安市洪泽区", "北京市朝阳区", "长春市朝阳区", "淮安市 洪泽区"]


@settings(max_examples=100, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from(AGENCIES), st.sampled_from(REGIONS), st.sampled_from([None, 2021, 2022, 2023])),
        max_size=25,
    )
)
def test_sql_and_python_agree_on_any_mix(rows):
    links, table, built = _both([*rows, ("某局", "浙江省温州市", 2019), ("某局", "浙江省温州市", 2020)])
    assert table == links.keys
    assert built["ambiguous"] == links.ambiguous
    assert built["linked_reports"] == sum(k is not None for k in links.keys.values())
