"""The data contract document is generated from the schema and must match it."""

import pyarrow as pa

from nianbao import contract_doc
from nianbao import schema as S


def test_contract_doc_is_up_to_date():
    """docs/data-contract.md equals what `nianbao generate` writes."""
    assert contract_doc.CONTRACT_PATH.read_text(encoding="utf-8") == contract_doc.render()


def test_readme_rule_sections_are_up_to_date():
    """The README's one-section-per-rule catalogue equals what the suites on disk generate."""
    readme = contract_doc.README_PATH.read_text(encoding="utf-8")
    assert readme == contract_doc.readme_with_rules(readme)
    for family in contract_doc.FAMILIES:
        assert f"### {family}:" in readme


def test_every_column_has_a_chinese_label():
    """No column of any table lacks its label, and no label names a column that does not exist."""
    labels = S.column_labels()
    for table, schema in S.TABLE_SCHEMAS.items():
        assert set(labels[table]) == set(schema.names), table
        assert all(labels[table][c] for c in schema.names)


def test_application_columns_cover_the_form():
    """Table 三 has 25 rows x 7 columns plus the single (六) row of 2019 and deviating 2021 reports."""
    assert len(S.APPLICATION_COLUMNS) == 25 * 7 + 7
    assert S.APPLICATIONS_SCHEMA.field("new_person").type == pa.int64()
    assert S.ACTIVE_SCHEMA.field("fees_10k_yuan").type == pa.decimal128(20, 6)


def test_report_id_is_stable_and_well_formed():
    """Same agency, region and year give the same id; the id passes the pattern GX pages rely on."""
    a = S.report_id_for("深州市人民政府办公室", "河北省衡水市深州市", 2021)
    assert a == S.report_id_for("深州市人民政府办公室", "河北省衡水市深州市", 2021)
    assert a != S.report_id_for("深州市人民政府办公室", "河北省衡水市深州市", 2022)
    assert S.REPORT_ID_PATTERN.match(a)
    assert S.REPORT_ID_PATTERN.match(S.report_id_for(None, None, None, fallback="abc"))
