"""Tenant-scoped reads: every tenant-owned model is read through ``scoped()``.

A test walks every model that has a ``tenant_id`` column and proves that a scoped query for
another tenant returns nothing.
"""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy import Select, select

from core.db import Base

M = TypeVar("M", bound=Base)


def scoped(model: type[M], tenant_id: str) -> Select[M]:
    column: Any = getattr(model, "tenant_id", None)
    if column is None:
        raise TypeError(f"{model.__name__} is not tenant-owned")
    return select(model).where(column == tenant_id)
