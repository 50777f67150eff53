"""Credits: an append-only ledger, a cached wallet row, agent prices, the Stripe event inbox.

Ledger arithmetic (integers only):
- ``amount`` changes the balance: grant/purchase/adjustment (+/-), capture/refund/chargeback (-).
- ``held_delta`` changes what is held: hold (+), capture and release (-).
balance = sum(amount); held = sum(held_delta); available = balance - held.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base, JSONType, new_id, utcnow


class EntryKind(StrEnum):
    GRANT = "grant"
    PURCHASE = "purchase"
    HOLD = "hold"
    CAPTURE = "capture"
    RELEASE = "release"
    REFUND = "refund"
    ADJUSTMENT = "adjustment"
    CHARGEBACK = "chargeback"


class Wallet(Base):
    """Cached totals, updated in the same transaction as each ledger entry; its row is the
    lock that serialises a tenant's holds (``SELECT ... FOR UPDATE`` on PostgreSQL)."""

    __tablename__ = "wallets"

    tenant_id: Mapped[str] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True
    )
    balance: Mapped[int] = mapped_column(default=0)
    held: Mapped[int] = mapped_column(default=0)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class LedgerEntry(Base):
    __tablename__ = "ledger_entries"
    __table_args__ = (
        Index("ix_ledger_tenant_created", "tenant_id", "created_at"),
        Index("ix_ledger_task", "task_id"),
        Index("ix_ledger_kind_created", "kind", "created_at"),
        # Usage queries (tasks/usage.py, migration 0003): captures per tenant in a window.
        Index("ix_ledger_tenant_kind_created", "tenant_id", "kind", "created_at"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))
    amount: Mapped[int] = mapped_column(default=0)
    held_delta: Mapped[int] = mapped_column(default=0)
    idempotency_key: Mapped[str] = mapped_column(String(255), unique=True)
    task_id: Mapped[str | None] = mapped_column(String(36), default=None)
    agent_id: Mapped[str | None] = mapped_column(String(64), default=None)
    tool_id: Mapped[str | None] = mapped_column(String(64), default=None)
    reason: Mapped[str | None] = mapped_column(Text, default=None)
    meta: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class AgentPrice(Base):
    __tablename__ = "agent_prices"

    agent_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    credits: Mapped[int] = mapped_column()
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class StripeEvent(Base):
    """Inbox: stored (unique on the event id) before it is processed, then marked processed."""

    __tablename__ = "stripe_events"

    id: Mapped[str] = mapped_column(String(255), primary_key=True)
    type: Mapped[str] = mapped_column(String(100))
    payload: Mapped[dict[str, Any]] = mapped_column(JSONType)
    received_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    processed_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    error: Mapped[str | None] = mapped_column(Text, default=None)
    attempts: Mapped[int] = mapped_column(default=0)
    tenant_id: Mapped[str | None] = mapped_column(String(36), default=None)


class MeterEventStatus(StrEnum):
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"


class MeterEvent(Base):
    """Outbox of usage to report to Stripe Billing Meters (postpaid plans).

    Written in the transaction that captures the agent's credits, sent later by
    ``billing.meters.send_pending``; ``identifier`` is the capture's idempotency key, which
    Stripe also uses to drop a duplicate report.
    """

    __tablename__ = "meter_events"
    __table_args__ = (Index("ix_meter_events_status_created", "status", "created_at"),)

    identifier: Mapped[str] = mapped_column(String(255), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    event_name: Mapped[str] = mapped_column(String(100))
    value: Mapped[int] = mapped_column()
    status: Mapped[str] = mapped_column(String(16), default=MeterEventStatus.PENDING)
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(Text, default=None)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[dt.datetime | None] = mapped_column(default=None)
