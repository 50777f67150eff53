"""``agensium billing``: operator commands on the ledger (reads DATABASE_URL)."""

from __future__ import annotations

from typing import Annotated

import typer

app = typer.Typer(no_args_is_help=True, help="Credits: reconciliation and usage reports.")


@app.command("reconcile")
def reconcile(
    fix: Annotated[
        bool, typer.Option(help="Rewrite differing wallet rows from the ledger.")
    ] = False,
) -> None:
    """Recompute every wallet from the ledger and list the differences (exit 1 if any)."""
    from billing.service import reconcile as run_reconcile
    from core.db import session_scope

    with session_scope() as session:
        diffs = run_reconcile(session, fix=fix)
    if not diffs:
        typer.echo("every wallet matches the ledger")
        return
    for d in diffs:
        typer.echo(
            f"{d.tenant_id}: wallet balance={d.cached.balance} held={d.cached.held},"
            f" ledger balance={d.ledger.balance} held={d.ledger.held}" + (" (fixed)" if fix else "")
        )
    typer.echo(f"{len(diffs)} wallet(s) differ from the ledger")
    raise typer.Exit(1)


@app.command("report-usage")
def report_usage(
    retry_failed: Annotated[
        bool, typer.Option(help="Also resend events that ran out of attempts.")
    ] = False,
) -> None:
    """Send pending postpaid usage to Stripe Billing Meters (the meter_events outbox)."""
    from billing.meters import send_pending

    report = send_pending(retry_failed=retry_failed)
    typer.echo(f"sent {report.sent}, to retry {report.retry_later}, failed {report.failed}")
    if report.retry_later or report.failed:
        raise typer.Exit(1)
