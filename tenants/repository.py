"""The one door for tenant-owned rows: every read or write of a row that carries ``tenant_id``
is filtered here, so isolation holds by structure rather than by each query remembering it.

- :func:`owned_by` is the filter itself (for aggregates and conditional updates);
- :func:`scoped` is a ``SELECT`` of one tenant's rows;
- :func:`get_owned` reads one row by id for its tenant (``None`` for another tenant's row).

Reads across tenants (the sweeper, operator usage) do not come through here and say so in
their names. ``tests/test_architecture.py`` fails on a ``tenant_id ==`` filter written anywhere
but a repository module; ``tests/gateway/test_isolation.py`` walks every tenant-owned model.
"""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Select, select
from sqlalchemy.orm import Session

from core.db import Base

M = TypeVar("M", bound=Base)


def owned_by(model: Any, tenant_id: str) -> ColumnElement[bool]:
    """The filter "this row belongs to ``tenant_id``"."""
    column: Any = getattr(model, "tenant_id", None)
    if column is None:
        raise TypeError(f"{getattr(model, '__name__', model)} is not tenant-owned")
    clause: ColumnElement[bool] = column == tenant_id
    return clause


def scoped(model: type[M], tenant_id: str) -> Select[M]:
    return select(model).where(owned_by(model, tenant_id))


def get_owned(
    session: Session, model: type[M], tenant_id: str, row_id: str, *, lock: bool = False
) -> M | None:
    """One row of ``tenant_id`` by primary key ``id``; another tenant's row reads as absent."""
    stmt = scoped(model, tenant_id).where(model.id == row_id)  # type: ignore[attr-defined]
    if lock:
        stmt = stmt.with_for_update()
    return session.scalars(stmt).first()
