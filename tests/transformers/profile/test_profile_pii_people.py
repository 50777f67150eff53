"""score-risk on a generated multi-locale people table (see people_table): PII found by values,
not only by headers, with the evidence of each finding."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.transformers.profile.helpers import make_ctx, with_row_id
from tests.transformers.profile.people_table import LOCALES, TRUTH, people_table
from transformers.agents.profile.score_risk import run
from transformers.params.profile import ScoreRiskParams


@pytest.fixture(scope="module")
def findings(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict]:
    frame = with_row_id(people_table())
    ctx = make_ctx(Path(tmp_path_factory.mktemp("pii")), frame, "score-risk")
    return run(frame, ScoreRiskParams(), ctx).data["columns"]


def test_table_is_the_one_the_acceptance_asks_for() -> None:
    frame = people_table(rows=70)
    assert len(LOCALES) >= 5 and frame.width >= 25
    assert frame["payment_card"].dtype.is_integer() and frame["settlement_no"].dtype.is_float()
    assert frame["doc_number"].null_count() > 0  # blanks among the IDs


def test_column_precision_and_recall(findings: dict[str, dict]) -> None:
    flagged = {c for c, info in findings.items() if info["pii_type"]}
    truth = {c for c, t in TRUTH.items() if t}
    tp = len(flagged & truth)
    precision = tp / len(flagged)
    recall = tp / len(truth)
    assert precision >= 0.95, f"false positives: {sorted(flagged - truth)}"
    assert recall >= 0.95, f"missed: {sorted(truth - flagged)}"


def test_type_accuracy_on_flagged_columns(findings: dict[str, dict]) -> None:
    flagged = [c for c, info in findings.items() if info["pii_type"] and TRUTH.get(c)]
    right = [c for c in flagged if findings[c]["pii_type"] == TRUTH[c]]
    wrong = {c: findings[c]["pii_type"] for c in flagged if c not in right}
    assert len(right) / len(flagged) >= 0.9, wrong


def test_names_without_a_header_hint_are_found_by_value(findings: dict[str, dict]) -> None:
    for col in ("contact", "beneficiary", "referred_by"):
        info = findings[col]
        assert info["pii_type"] == "person_name", (col, info["reason"])
        assert info["evidence"]["header_hint"] is None
        assert info["evidence"]["name_list_hit_ratio"] >= 0.8


def test_mixed_national_ids_state_formats_and_checksums(findings: dict[str, dict]) -> None:
    ev = findings["doc_number"]["evidence"]
    assert findings["doc_number"]["pii_type"] == "national_id"
    assert ev["header_hint"] is None
    assert ev["checksum_pass_ratio"] >= 0.95
    assert {"fr_nir", "es_dni", "es_nie", "de_steuer_id", "nl_bsn", "uk_nino", "it_cf"} <= set(
        ev["formats"]
    )


def test_card_numbers_stored_as_floats_found_by_luhn(findings: dict[str, dict]) -> None:
    info = findings["settlement_no"]
    assert info["pii_type"] == "credit_card"
    assert info["evidence"]["header_hint"] is None
    assert info["evidence"]["checksum_pass_ratio"] == 1.0


def test_every_finding_states_its_evidence(findings: dict[str, dict]) -> None:
    for col, info in findings.items():
        if info["pii_type"]:
            ev = info["evidence"]
            assert 0 < ev["value_hit_ratio"] <= 1, col
            assert "header_hint" in ev, col


def test_look_alikes_are_not_pii(findings: dict[str, dict]) -> None:
    for col in ("city", "country", "company", "product_code", "order_number", "notes", "job"):
        assert findings[col]["pii_type"] is None, (col, findings[col]["reason"])


def test_national_id_checksums_reject_altered_digits() -> None:
    import polars as pl

    from transformers.agents.profile import pii_ids

    valid = ["1 84 12 76 451 089 46", "12345678Z", "X1234567L", "86095742719", "111222333",
             "RSSMRA85T10A562S", "AB123456C"]  # fmt: skip
    mask, ev = pii_ids.classify(pl.Series(valid))
    assert mask.to_list() == [True] * len(valid), ev
    altered = ["1 84 12 76 451 089 47", "12345678A", "X1234567A", "86095742718", "111222334",
               "RSSMRA85T10A562T"]  # fmt: skip
    mask, ev = pii_ids.classify(pl.Series(altered))
    assert not any(mask.to_list()), ev
    assert all(shape == 1 and passed == 0 for shape, passed in ev.values())


@pytest.mark.parametrize(
    ("column", "values", "expected"),
    [
        ("geburtsdatum", ["1980-01-02", "1975-06-30", "1990-12-01"], "date_of_birth"),
        ("date_de_naissance", ["02/01/1980", "30/06/1975", "01/12/1990"], "date_of_birth"),
        ("passport_no", ["X1234567", "P 998877", "C7H2K9Q1"], "national_id"),
        ("benutzername", ["jdoe", "m.muster", "anna_k"], "username"),
        ("mot_de_passe", ["#@S9GDJk$K", "K!85Hy9@nT", "u*YNrgsy%0"], "password"),
        ("maiden_name", ["Garcia", "Dubois", "Rossi"], "person_name"),
        ("correo", ["a@b.es", "c@d.es", "e@f.es"], "email"),
        # look-alikes under words that are hints in other senses
        ("pass_rate", ["0.95", "0.5", "0.75"], None),
        ("fiscal_year", ["2024", "2023", "2022"], None),
        ("user_id", ["1", "2", "3"], None),
    ],
)
def test_multilingual_header_hints(column: str, values: list[str], expected: str | None) -> None:
    import polars as pl

    from transformers.agents.profile import pii_patterns as pp

    assert pp.detect_column(column, pl.Series(column, values)).pii_type == expected
