"""Tenants, their plans and their API keys."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.db import Base, JSONType, new_id, utcnow


class Plan(Base):
    """Limits and quotas of a plan. Operators move tenants between plans; limits apply at once."""

    __tablename__ = "plans"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    submit_per_minute: Mapped[int] = mapped_column(default=30)
    read_per_minute: Mapped[int] = mapped_column(default=600)
    max_concurrent_tasks: Mapped[int] = mapped_column(default=3)
    max_concurrent_tasks_per_tool: Mapped[int] = mapped_column(default=2)
    max_file_bytes: Mapped[int] = mapped_column(BigInteger, default=50 * 1024 * 1024)
    max_rows: Mapped[int] = mapped_column(default=1_000_000)
    max_columns: Mapped[int] = mapped_column(default=2_000)
    max_cell_length: Mapped[int] = mapped_column(default=100_000)
    postpaid: Mapped[bool] = mapped_column(default=False)


class Tenant(Base):
    __tablename__ = "tenants"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(200))
    plan_id: Mapped[str] = mapped_column(ForeignKey("plans.id"), default="free")
    stripe_customer_id: Mapped[str | None] = mapped_column(String(100), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    disabled_at: Mapped[dt.datetime | None] = mapped_column(default=None)

    plan: Mapped[Plan] = relationship(lazy="joined")


class ApiKey(Base):
    """Stored as HMAC-SHA256(pepper, key); looked up by its public prefix."""

    __tablename__ = "api_keys"
    __table_args__ = (Index("ix_api_keys_tenant", "tenant_id"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200), default="default")
    prefix: Mapped[str] = mapped_column(String(16), unique=True)
    hashed_key: Mapped[str] = mapped_column(String(64))
    scopes: Mapped[list[Any]] = mapped_column(JSONType, default=list)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(default=None)
