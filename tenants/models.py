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
    #: Origins (``https://app.example.com``) top-up return URLs may point at.
    return_origins: Mapped[list[Any] | None] = mapped_column(JSONType, default=list)

    plan: Mapped[Plan] = relationship(lazy="joined")


class ApiKey(Base):
    """Stored as HMAC-SHA256(derived key ``hash_kid``, key); looked up by its public prefix.
    ``hash_kid`` None: hashed before key ids existed (HMAC with the root secret itself)."""

    __tablename__ = "api_keys"
    __table_args__ = (Index("ix_api_keys_tenant", "tenant_id"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200), default="default")
    prefix: Mapped[str] = mapped_column(String(16), unique=True)
    hashed_key: Mapped[str] = mapped_column(String(64))
    hash_kid: Mapped[str | None] = mapped_column(String(16), default=None)
    scopes: Mapped[list[Any]] = mapped_column(JSONType, default=list)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    expires_at: Mapped[dt.datetime | None] = mapped_column(default=None)


class CallbackSecret(Base):
    """A tenant's callback signing secret: HMAC(derived callback key ``kid``, tenant + nonce).
    The newest row signs; older rows whose ``expires_at`` is still ahead sign too (rotation)."""

    __tablename__ = "callback_secrets"
    __table_args__ = (Index("ix_callback_secrets_tenant", "tenant_id", "created_at"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    kid: Mapped[str] = mapped_column(String(16))
    nonce: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[dt.datetime | None] = mapped_column(default=None)
