"""score-risk / pii_patterns: labelled values, precedence, name tiebreaks, overall risk."""

from __future__ import annotations

import datetime as dt
import random

import polars as pl
import pytest

from tests.transformers.profile.helpers import make_ctx, with_row_id
from transformers.agents.profile import pii_patterns as pp
from transformers.agents.profile import score_risk
from transformers.contract import AgentStatus
from transformers.params.profile import ScoreRiskParams

R = random.Random(7)


def _luhn_complete(prefix: str, length: int) -> str:
    body = prefix + "".join(R.choice("0123456789") for _ in range(length - len(prefix) - 1))
    for d in "0123456789":
        if pp.luhn_valid([body + d])[0]:
            return body + d
    raise AssertionError


def _iban(country: str, bban: str) -> str:
    for cd in range(100):
        v = f"{country}{cd:02d}{bban}"
        if pp.iban_valid(v):
            return v
    raise AssertionError


def gen(kind: str) -> str:
    d = lambda k: "".join(R.choice("0123456789") for _ in range(k))  # noqa: E731
    if kind == pp.EMAIL:
        local = R.choice(["anna", "j.doe", "x_y+tag"])
        return f"{local}{d(3)}@{R.choice(['ex.com', 'mail.co.uk'])}"
    if kind == pp.PHONE:
        return R.choice(
            [
                f"+1 ({d(3)}) {d(3)}-{d(4)}", f"({d(3)}) {d(3)}-{d(4)}", f"{d(3)}-{d(3)}-{d(4)}",
                f"{d(3)}.{d(3)}.{d(4)}", f"+44 20 {d(4)} {d(4)}", f"020 {d(4)} {d(4)}",
                f"+33 1 {d(2)} {d(2)} {d(2)} {d(2)}", f"01 {d(2)} {d(2)} {d(2)} {d(2)}",
                f"+49 30 {d(7)}", f"+91 {d(5)} {d(5)}", f"+{d(11)}",
            ]
        )  # fmt: skip
    if kind == pp.SSN:
        return f"{R.randint(1, 665):03d}-{R.randint(1, 99):02d}-{R.randint(1, 9999):04d}"
    if kind == pp.CREDIT_CARD:
        num = R.choice(
            [_luhn_complete("4", 16), _luhn_complete("51", 16), _luhn_complete("37", 15)]
        )
        sep = R.choice(["", " ", "-"])
        return sep.join(num[i : i + 4] for i in range(0, len(num), 4)) if sep else num
    if kind == pp.IBAN:
        if R.random() < 0.5:
            return _iban("DE", d(18))
        return _iban("GB", "NWBK" + d(14))
    if kind == pp.IP:
        if R.random() < 0.6:
            return ".".join(str(R.randint(0, 255)) for _ in range(4))
        groups = [f"{R.randint(0, 65535):x}" for _ in range(8)]
        return ":".join(groups) if R.random() < 0.5 else f"{groups[0]}:{groups[1]}::{groups[7]}"
    if kind == "date":
        day = dt.date(1950, 1, 1) + dt.timedelta(days=R.randint(0, 25000))
        return R.choice([day.isoformat(), day.strftime("%d/%m/%Y"), day.strftime("%d.%m.%Y")])
    if kind == pp.POSTAL:
        return R.choice([f"SW{R.randint(1, 9)}A {R.randint(1, 9)}AA", f"K1A {R.randint(0, 9)}B1",
                         f"{R.randint(1000, 9999)} AB", f"{d(5)}-{d(4)}"])  # fmt: skip
    # negatives
    return R.choice(
        [f"{R.randint(1, 99999)}.{d(2)}", f"{d(7)}.{d(3)}", "hello world", f"SKU-{d(4)}-X",
         "4111 1111 1111 1112", f"000-{d(2)}-{d(4)}", "n/a", f"{d(2)}:{d(2)}", "DE00INVALID123"]
    )  # fmt: skip


TYPES = [pp.EMAIL, pp.PHONE, pp.SSN, pp.CREDIT_CARD, pp.IBAN, pp.IP, "date", pp.POSTAL]


def test_value_precision_recall_per_type() -> None:
    labels = [t for t in [*TYPES, None] for _ in range(400)]
    values = [gen(t or "neg") for t in labels]
    masks = pp.classify_values(pl.Series(values))
    for t in TYPES:
        pred = masks[t].to_list()
        tp = sum(p and lab == t for p, lab in zip(pred, labels, strict=True))
        fp = sum(p and lab != t for p, lab in zip(pred, labels, strict=True))
        fn = sum((not p) and lab == t for p, lab in zip(pred, labels, strict=True))
        precision = tp / (tp + fp) if tp + fp else 0.0
        recall = tp / (tp + fn)
        assert precision >= 0.95 and recall >= 0.95, (t, precision, recall)
    # ISO dates and SSNs are never phones, valid or not
    tricky = ["2024-01-15", "1999-12-31", "123-45-6789", "000-00-0000", "2024-13-45", "20240115"]
    assert not any(pp.classify_values(pl.Series(tricky))[pp.PHONE].to_list())


def _risk_frame() -> pl.DataFrame:
    n = 300
    birth = [dt.date(1940, 1, 1) + dt.timedelta(days=R.randint(0, 20000)) for _ in range(n)]
    return with_row_id(
        pl.DataFrame(
            {
                "contact": [gen(pp.EMAIL) for _ in range(n)],
                "tel": [gen(pp.PHONE) for _ in range(n)],
                "x1": [gen(pp.SSN) for _ in range(n)],
                "x2": [gen(pp.CREDIT_CARD) for _ in range(n)],
                "acct": [gen(pp.IBAN) for _ in range(n)],
                "src": [gen(pp.IP) for _ in range(n)],
                "d1": [b.isoformat() for b in birth],
                "order_date": [
                    (dt.date(2024, 1, 1) + dt.timedelta(days=R.randint(0, 300))).isoformat()
                    for _ in range(n)
                ],
                "zip": [f"{R.randint(10000, 99999)}" for _ in range(n)],
                "quantity": [R.randint(10000, 99999) for _ in range(n)],
                "filename": [f"report_{i}.csv" for i in range(n)],
                "first_name": [R.choice(["Anna", "Jean-Luc", "Zoë", "Li"]) for _ in range(n)],
                "amount": [R.random() * 1000 for _ in range(n)],
            }
        )
    )


def test_score_risk_columns(tmp_path) -> None:
    frame = _risk_frame()
    res = score_risk.run(frame, ScoreRiskParams(), make_ctx(tmp_path, frame, "score-risk"))
    got = {c: v["pii_type"] for c, v in res.data["columns"].items()}
    assert got == {
        "contact": pp.EMAIL, "tel": pp.PHONE, "x1": pp.SSN, "x2": pp.CREDIT_CARD,
        "acct": pp.IBAN, "src": pp.IP, "d1": pp.DOB, "order_date": None, "zip": pp.POSTAL,
        "quantity": None, "filename": None, "first_name": pp.PERSON, "amount": None,
    }  # fmt: skip
    assert set(res.data["frameworks_affected"]) == {"GDPR", "CCPA", "PCI-DSS"}
    assert res.data["frameworks_if_health_data"] == ["HIPAA"]
    assert res.data["overall_risk_score"] >= 99


def test_overall_risk_not_diluted(tmp_path) -> None:
    n = 200
    one = with_row_id(pl.DataFrame({"ssn": [gen(pp.SSN) for _ in range(n)]}))
    many = with_row_id(
        pl.DataFrame({"ssn": one["ssn"], **{f"v{i}": list(range(n)) for i in range(50)}})
    )
    r1 = score_risk.run(one, ScoreRiskParams(), make_ctx(tmp_path, one, "score-risk"))
    r2 = score_risk.run(many, ScoreRiskParams(), make_ctx(tmp_path, many, "score-risk"))
    assert r1.data["overall_risk_score"] == r2.data["overall_risk_score"] >= 95
    assert score_risk.overall_risk([60, 60]) > score_risk.overall_risk([60]) == 60


def test_name_hints_are_whole_words() -> None:
    assert pp.name_hint("filename") is None
    assert pp.name_hint("file_name") is None
    assert pp.name_hint("customerName") == pp.PERSON
    assert pp.name_hint("customer_email") == pp.EMAIL
    assert pp.name_hint("zipcode") == pp.POSTAL
    assert pp.name_hint("shipping") is None  # 'ship' is not 'ip'


def test_min_match_ratio_and_sample_size(tmp_path) -> None:
    vals = [gen(pp.EMAIL) if i % 2 else "text" for i in range(400)]
    frame = with_row_id(pl.DataFrame({"c": vals}))
    ctx = make_ctx(tmp_path, frame, "score-risk")
    assert score_risk.run(frame, ScoreRiskParams(), ctx).data["columns"]["c"]["pii_type"] is None
    low = score_risk.run(frame, ScoreRiskParams(min_match_ratio=0.4), ctx)
    assert low.data["columns"]["c"]["pii_type"] == pp.EMAIL
    sampled = score_risk.run(frame, ScoreRiskParams(sample_size=50, min_match_ratio=0.4), ctx)
    assert sampled.data["rows_scanned"] == 50


@pytest.mark.parametrize("n", [0, 1])
def test_tiny(tmp_path, n: int) -> None:
    frame = with_row_id(pl.DataFrame({"email": ["a@b.co"] * n}, schema={"email": pl.String}))
    res = score_risk.run(frame, ScoreRiskParams(), make_ctx(tmp_path, frame, "score-risk"))
    assert res.status == AgentStatus.SUCCESS


def test_stray_pii_values_listed_by_row_id(tmp_path) -> None:
    """Single PII values in a free-text column are row-level issues (real row ids, redacted);
    PII columns themselves and harmless text are not listed value by value."""
    card = _luhn_complete("4", 16)
    comments = ["all good", "call me", "fine", "ok thanks", "see attached", "n/a"] * 50
    planted = {3: "mail me at x: j.doe@example.com", 7: "jane.roe@example.org",
               11: card, 19: "078-05-1120", 23: "+44 20 7946 0958", 29: "10.0.0.7",
               31: "not a card 4111 1111 1111 1112", 37: "2024-05-01"}  # fmt: skip
    for i, v in planted.items():
        comments[i] = v
    emails = [f"user{i}@example.com" for i in range(len(comments))]
    frame = with_row_id(pl.DataFrame({"comment": comments, "contact": emails}), offset=500)
    res = score_risk.run(frame, ScoreRiskParams(), make_ctx(tmp_path, frame, "score-risk"))
    assert res.data["columns"]["contact"]["pii_type"] == pp.EMAIL
    assert res.data["columns"]["comment"]["pii_type"] is None
    got = {(r.row_id, r.issue_type) for r in res.row_level_issues}
    assert got == {
        (507, "stray_pii_email"),
        (511, "stray_pii_credit_card"),
        (519, "stray_pii_ssn"),
        (523, "stray_pii_phone"),
        (529, "stray_pii_ip_address"),
    }
    assert all(r.column == "comment" for r in res.row_level_issues)
    card_row = next(r for r in res.row_level_issues if r.row_id == 511)
    assert card not in str(card_row.value) and card not in card_row.message
    assert str(card_row.value) == card[:2] + "*" * 12 + card[-2:]
    assert res.summary_metrics["stray_pii_values"] == 5
    off = score_risk.run(
        frame, ScoreRiskParams(stray_pii_rows=False), make_ctx(tmp_path, frame, "score-risk")
    )
    assert off.row_level_issues == []
