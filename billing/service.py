"""The money path: holds at ``process``, captures per successful agent, release of the rest.

Every entry carries a unique idempotency key (``task_id:agent_id:capture``, ``task_id:hold``,
``task_id:release``, Stripe ``event.id``...), so a redelivered task or webhook never moves
credits twice. Each write locks the tenant's wallet row first (``FOR UPDATE`` on PostgreSQL;
SQLite serialises writers with ``BEGIN IMMEDIATE``), so concurrent holds cannot overspend.
Services flush; the boundary (request or worker task) commits.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Connection, bindparam, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from billing.exceptions import InsufficientCredits, OutstandingDebt
from billing.models import AgentPrice, EntryKind, LedgerEntry, MeterEvent, Wallet
from core.db import is_postgres
from core.settings import get_settings
from tenants.models import Tenant
from tenants.repository import owned_by
from transformers.registry import TOOLS, ToolSpec


@dataclass(frozen=True)
class WalletView:
    balance: int
    held: int

    @property
    def available(self) -> int:
        return self.balance - self.held


@dataclass(frozen=True)
class Estimate:
    credits: int
    per_agent: dict[str, int]


def sync_prices(session: Session) -> None:
    """Seed missing agent prices from the registry; operator changes are kept."""
    existing = set(session.scalars(select(AgentPrice.agent_id)))
    for tool in TOOLS.values():
        for agent in tool.agents:
            if agent.agent_id not in existing:
                session.add(AgentPrice(agent_id=agent.agent_id, credits=agent.price))
                existing.add(agent.agent_id)
    session.flush()


def prices(session: Session) -> dict[str, int]:
    # Two columns, not entities: every process call reads the whole price table.
    rows = session.execute(select(AgentPrice.agent_id, AgentPrice.credits))
    table: dict[str, int] = {agent_id: credits for agent_id, credits in rows}
    for tool in TOOLS.values():
        for agent in tool.agents:
            table.setdefault(agent.agent_id, agent.price)
    return table


def set_price(session: Session, agent_id: str, credits: int) -> AgentPrice:
    row = session.get(AgentPrice, agent_id)
    if row is None:
        row = AgentPrice(agent_id=agent_id, credits=credits)
        session.add(row)
    else:
        row.credits = credits
    session.flush()
    return row


def estimate(session: Session, tool: ToolSpec, agents: list[str], roles: set[str]) -> Estimate:
    """Credits for the agents that will run: an agent whose required file is absent is skipped
    and costs nothing, so it is not held either."""
    table = prices(session)
    per_agent = {
        a: table[a] for a in agents if all(r in roles for r in tool.agent(a).requires_roles)
    }
    return Estimate(credits=sum(per_agent.values()), per_agent=per_agent)


_LOCKED = "agensium_locked_wallets"


def _locked_wallet(session: Session, tenant_id: str) -> Wallet:
    """The tenant's wallet row, locked for the rest of the transaction. Read (and locked) once
    per transaction: a hold or a capture asks for it several times (lock, check, post), and
    the lock holds until the commit, so later asks get the same row from the session."""
    txn = session.get_transaction()
    held: tuple[Any, dict[str, Wallet]] | None = session.info.get(_LOCKED)
    if held is not None and held[0] is txn and tenant_id in held[1]:
        return held[1][tenant_id]
    wallet = _lock_wallet_row(session, tenant_id)
    if held is None or held[0] is not txn:  # a new transaction: earlier locks are gone
        held = (txn, {})
        session.info[_LOCKED] = held
    held[1][tenant_id] = wallet
    return wallet


def _lock_wallet_row(session: Session, tenant_id: str) -> Wallet:
    stmt = select(Wallet).where(owned_by(Wallet, tenant_id))
    if is_postgres(session):
        stmt = stmt.with_for_update()
    wallet = session.scalars(stmt).first()
    if wallet is None:
        # First entry for this tenant: create the row, tolerating a concurrent creator.
        try:
            with session.begin_nested():
                session.add(Wallet(tenant_id=tenant_id, balance=0, held=0))
        except IntegrityError:
            pass
        wallet = session.scalars(stmt).one()
    return wallet


def lock_wallet(session: Session, tenant_id: str) -> WalletView:
    """Take the tenant's billing lock for the rest of the transaction."""
    row = _locked_wallet(session, tenant_id)
    return WalletView(row.balance, row.held)


#: Built once; the tenant is a bound parameter (``{"tenant_id": ...}``).
_WALLET = select(Wallet.balance, Wallet.held).where(
    owned_by(Wallet, cast(str, bindparam("tenant_id")))
)


def wallet(db: Session | Connection, tenant_id: str) -> WalletView:
    """The tenant's balance and holds: one primary-key read of two columns (no entity), in a
    session or on a bare connection (``core.db.read_connection``)."""
    row = db.execute(_WALLET, {"tenant_id": tenant_id}).first()
    return WalletView(row.balance, row.held) if row else WalletView(0, 0)


def ledger_totals(session: Session, tenant_id: str) -> WalletView:
    """The balance derived from the ledger alone (reconciliation compares it with the wallet)."""
    balance, held = session.execute(
        select(
            func.coalesce(func.sum(LedgerEntry.amount), 0),
            func.coalesce(func.sum(LedgerEntry.held_delta), 0),
        ).where(owned_by(LedgerEntry, tenant_id))
    ).one()
    return WalletView(int(balance), int(held))


def _entry_exists(session: Session, key: str) -> LedgerEntry | None:
    return session.scalars(select(LedgerEntry).where(LedgerEntry.idempotency_key == key)).first()


def post(
    session: Session,
    tenant_id: str,
    kind: EntryKind,
    *,
    key: str,
    amount: int = 0,
    held_delta: int = 0,
    task_id: str | None = None,
    agent_id: str | None = None,
    tool_id: str | None = None,
    reason: str | None = None,
    meta: dict[str, Any] | None = None,
) -> LedgerEntry | None:
    """Append one entry and update the wallet; returns None if the key was already posted."""
    wallet_row = _locked_wallet(session, tenant_id)
    if _entry_exists(session, key) is not None:
        return None
    entry = LedgerEntry(
        tenant_id=tenant_id,
        kind=kind,
        amount=amount,
        held_delta=held_delta,
        idempotency_key=key,
        task_id=task_id,
        agent_id=agent_id,
        tool_id=tool_id,
        reason=reason,
        meta=meta or {},
    )
    session.add(entry)
    wallet_row.balance += amount
    wallet_row.held += held_delta
    session.flush()
    return entry


def grant(
    session: Session,
    tenant_id: str,
    credits: int,
    reason: str,
    key: str,
    kind: EntryKind = EntryKind.GRANT,
) -> LedgerEntry | None:
    return post(session, tenant_id, kind, key=key, amount=credits, reason=reason)


def hold_for_task(
    session: Session, tenant_id: str, task_id: str, tool_id: str, credits: int
) -> WalletView:
    """Hold the estimate or raise 402. Runs in the transaction that marks the task QUEUED."""
    wallet_row = _locked_wallet(session, tenant_id)
    if wallet_row.balance < 0:
        raise OutstandingDebt(
            "Your balance is negative after a refund or dispute; top up to continue",
            details={"balance": wallet_row.balance},
        )
    available = wallet_row.balance - wallet_row.held
    if available < credits:
        raise InsufficientCredits(
            f"This task needs {credits} credits; {available} are available",
            details={
                "required": credits,
                "available": available,
                "shortfall": credits - available,
                "top_up": "POST /v1/billing/top-ups",
            },
        )
    if credits > 0:
        post(
            session,
            tenant_id,
            EntryKind.HOLD,
            key=f"{task_id}:hold",
            held_delta=credits,
            task_id=task_id,
            tool_id=tool_id,
        )
    return WalletView(wallet_row.balance, wallet_row.held)


def task_hold_remaining(session: Session, task_id: str) -> int:
    total = session.scalar(
        select(func.coalesce(func.sum(LedgerEntry.held_delta), 0)).where(
            LedgerEntry.task_id == task_id
        )
    )
    return int(total or 0)


def capture_agent(
    session: Session, tenant_id: str, task_id: str, tool_id: str, agent_id: str, price: int
) -> bool:
    """Charge one successful agent, at most once (key ``task_id:agent_id:capture``).

    Capped by what is still held for the task, so a price change mid-task never overdraws.
    The wallet is locked before the hold is read, so two workers racing on one task (a lease
    that expired under a slow agent) cannot both spend the same remainder. On a postpaid plan
    the capture is also written to the meter outbox in the same transaction.
    """
    _locked_wallet(session, tenant_id)
    remaining = task_hold_remaining(session, task_id)
    charge = max(0, min(price, remaining))
    entry = post(
        session,
        tenant_id,
        EntryKind.CAPTURE,
        key=f"{task_id}:{agent_id}:capture",
        amount=-charge,
        held_delta=-charge,
        task_id=task_id,
        agent_id=agent_id,
        tool_id=tool_id,
    )
    if entry is not None and charge > 0:
        _queue_meter_event(session, tenant_id, entry.idempotency_key, charge)
    return entry is not None


def _queue_meter_event(session: Session, tenant_id: str, identifier: str, credits: int) -> None:
    tenant = session.get(Tenant, tenant_id)
    if tenant is None or not tenant.plan.postpaid:
        return
    session.add(
        MeterEvent(
            identifier=identifier,
            tenant_id=tenant_id,
            event_name=get_settings().stripe_meter_event_name,
            value=credits,
        )
    )
    session.flush()


def release_task(session: Session, tenant_id: str, task_id: str, tool_id: str | None) -> int:
    """Release whatever is still held for a task that ended (in any state). Idempotent."""
    _locked_wallet(session, tenant_id)
    remaining = task_hold_remaining(session, task_id)
    if remaining <= 0:
        return 0
    entry = post(
        session,
        tenant_id,
        EntryKind.RELEASE,
        key=f"{task_id}:release",
        held_delta=-remaining,
        task_id=task_id,
        tool_id=tool_id,
    )
    return remaining if entry else 0


def charged_for_task(session: Session, task_id: str) -> int:
    total = session.scalar(
        select(func.coalesce(func.sum(-LedgerEntry.amount), 0)).where(
            LedgerEntry.task_id == task_id, LedgerEntry.kind == EntryKind.CAPTURE
        )
    )
    return int(total or 0)


# --- purchases, refunds, disputes (Stripe) -------------------------------------------------


def purchase_key(payment_intent_id: str) -> str:
    """One purchase per payment, whichever event (Checkout or PaymentIntent) reports it first."""
    return f"stripe:{payment_intent_id}:purchase"


def purchase_for_payment(session: Session, payment_intent_id: str) -> LedgerEntry | None:
    return _entry_exists(session, purchase_key(payment_intent_id))


def purchase(
    session: Session,
    tenant_id: str,
    credits: int,
    *,
    payment_intent_id: str,
    amount_cents: int,
    event_id: str,
    package_id: str | None,
) -> LedgerEntry | None:
    """Credit a paid top-up once per payment; None when it was already credited."""
    return post(
        session,
        tenant_id,
        EntryKind.PURCHASE,
        key=purchase_key(payment_intent_id),
        amount=credits,
        reason=f"top-up {package_id or ''}".strip(),
        meta={
            "payment_intent": payment_intent_id,
            "amount_cents": amount_cents,
            "credits": credits,
            "package_id": package_id,
            "event_id": event_id,
        },
    )


def removed_for_payment(
    session: Session,
    tenant_id: str,
    payment_intent_id: str,
    kinds: list[EntryKind] | None = None,
) -> int:
    """Credits already taken back (refunds and chargebacks by default) for one payment."""
    total = session.scalar(
        select(func.coalesce(func.sum(-LedgerEntry.amount), 0)).where(
            owned_by(LedgerEntry, tenant_id),
            LedgerEntry.kind.in_(kinds or [EntryKind.REFUND, EntryKind.CHARGEBACK]),
            LedgerEntry.idempotency_key.like(
                "stripe:" + payment_intent_id.replace("_", r"\_") + ":%", escape="\\"
            ),
        )
    )
    return int(total or 0)


def remove_purchased(
    session: Session,
    tenant_id: str,
    kind: EntryKind,
    credits: int,
    *,
    key: str,
    payment_intent_id: str,
    reason: str,
    meta: dict[str, Any],
) -> LedgerEntry | None:
    """Take back refunded or disputed credits, even below zero.

    A negative balance is a recorded debt (``meta.debt``): ``hold_for_task`` refuses new tasks
    with OUTSTANDING_DEBT until a top-up settles it. Never takes back more than was bought.
    """
    _locked_wallet(session, tenant_id)
    bought = purchase_for_payment(session, payment_intent_id)
    if bought is not None:
        credits = min(
            credits, bought.amount - removed_for_payment(session, tenant_id, payment_intent_id)
        )
    if credits <= 0:
        return None
    w = wallet(session, tenant_id)
    debt = max(0, credits - w.balance) if w.balance >= 0 else credits
    return post(
        session,
        tenant_id,
        kind,
        key=key,
        amount=-credits,
        reason=reason,
        meta={**meta, "payment_intent": payment_intent_id, "debt": debt},
    )


# --- reconciliation -------------------------------------------------------------------------


@dataclass(frozen=True)
class WalletDifference:
    tenant_id: str
    cached: WalletView
    ledger: WalletView


def reconcile(session: Session, *, fix: bool = False) -> list[WalletDifference]:
    """Recompute every wallet from the ledger; return the ones whose cache differs.

    With ``fix`` the cached rows are rewritten from the ledger (the ledger is the truth).
    A tenant with ledger entries but no wallet row counts as a difference too.
    """
    totals = {
        tenant_id: WalletView(int(balance), int(held))
        for tenant_id, balance, held in session.execute(
            select(
                LedgerEntry.tenant_id,
                func.sum(LedgerEntry.amount),
                func.sum(LedgerEntry.held_delta),
            ).group_by(LedgerEntry.tenant_id)
        )
    }
    cached = {w.tenant_id: w for w in session.scalars(select(Wallet))}
    diffs: list[WalletDifference] = []
    for tenant_id in sorted(set(totals) | set(cached)):
        ledger_view = totals.get(tenant_id, WalletView(0, 0))
        row = cached.get(tenant_id)
        cached_view = WalletView(row.balance, row.held) if row else WalletView(0, 0)
        if cached_view != ledger_view:
            diffs.append(WalletDifference(tenant_id, cached_view, ledger_view))
            if fix:
                locked = _locked_wallet(session, tenant_id)
                fresh = ledger_totals(session, tenant_id)
                locked.balance, locked.held = fresh.balance, fresh.held
    session.flush()
    return diffs
