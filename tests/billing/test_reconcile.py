"""``agensium billing reconcile``: every wallet recomputed from the ledger, differences reported."""

from __future__ import annotations

from sqlalchemy import update
from typer.testing import CliRunner

from tests.billing.conftest import assert_wallet_matches_ledger


def test_reconcile_reports_a_wallet_that_drifted_from_the_ledger_and_fix_repairs_it(
    make_tenant,
):
    from billing.models import Wallet
    from core.db import session_scope
    from gateway.cli import app

    tc = make_tenant(credits=500)
    runner = CliRunner()
    clean = runner.invoke(app, ["billing", "reconcile"])
    assert clean.exit_code == 0, clean.output
    assert "every wallet matches the ledger" in clean.output

    # Someone edits the cache by hand: the ledger still says 500.
    with session_scope() as session:
        session.execute(
            update(Wallet).where(Wallet.tenant_id == tc.tenant_id).values(balance=777, held=3)
        )
    drifted = runner.invoke(app, ["billing", "reconcile"])
    assert drifted.exit_code == 1
    assert tc.tenant_id in drifted.output
    assert "wallet balance=777 held=3, ledger balance=500 held=0" in drifted.output
    assert tc.client.get("/v1/billing/wallet").json()["balance"] == 777  # reporting changes nothing

    fixed = runner.invoke(app, ["billing", "reconcile", "--fix"])
    assert fixed.exit_code == 1 and "(fixed)" in fixed.output
    assert runner.invoke(app, ["billing", "reconcile"]).exit_code == 0
    assert assert_wallet_matches_ledger(tc.tenant_id)["balance"] == 500
