"""The one keyset pager: every list endpoint pages newest first on ``(created_at, id)`` with an
opaque cursor, and every malformed, naive or out-of-range cursor is 422 ``INVALID_CURSOR``.

A cursor is ``base64url("<ISO-8601 UTC timestamp>|<id>")``; it is only ever made by
:func:`encode_cursor`, so anything else a client sends is refused before it reaches SQL.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import re
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy import Select
from sqlalchemy.orm import Session

from core.errors import ValidationFailedError

T = TypeVar("T")

#: Longest cursor accepted (a timestamp, a separator and an id of at most 64 characters).
MAX_CURSOR_LENGTH = 200
#: Timestamps a cursor may carry: anything a row of ours can have been created at.
EARLIEST = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
LATEST = dt.datetime(3000, 1, 1, tzinfo=dt.UTC)
_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")


@dataclass(frozen=True)
class Keyset:
    created_at: dt.datetime
    id: str


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    next_cursor: str | None


def _invalid(reason: str) -> ValidationFailedError:
    return ValidationFailedError(
        "Invalid cursor: pass the next_cursor of the previous page unchanged",
        code="INVALID_CURSOR",
        details={"reason": reason},
    )


def encode_cursor(created_at: dt.datetime, row_id: str) -> str:
    stamp = created_at.astimezone(dt.UTC).isoformat()
    return base64.urlsafe_b64encode(f"{stamp}|{row_id}".encode()).decode()


def decode_cursor(cursor: str | None) -> Keyset | None:
    """The keyset a cursor names, or None for the first page; 422 for anything else."""
    if not cursor:
        return None
    if len(cursor) > MAX_CURSOR_LENGTH:
        raise _invalid("too long")
    try:
        text = base64.urlsafe_b64decode(cursor.encode("ascii", "strict")).decode("utf-8")
    except (UnicodeError, ValueError, binascii.Error):
        raise _invalid("not base64url of UTF-8 text") from None
    stamp, sep, row_id = text.partition("|")
    if not sep or not _ID.fullmatch(row_id):
        raise _invalid("not '<timestamp>|<id>'")
    try:
        when = dt.datetime.fromisoformat(stamp)
    except ValueError:
        raise _invalid("not an ISO-8601 timestamp") from None
    if when.tzinfo is None or when.utcoffset() is None:
        raise _invalid("timestamp without a timezone")
    try:
        when = when.astimezone(dt.UTC)
    except OverflowError:
        raise _invalid("timestamp out of range") from None
    if not EARLIEST <= when < LATEST:
        raise _invalid("timestamp out of range")
    return Keyset(when, row_id)


def keyset_page(
    session: Session, stmt: Select[Any], model: Any, cursor: str | None, limit: int
) -> Page[Any]:
    """One page of ``stmt`` (already scoped and filtered), newest first, after ``cursor``."""
    after = decode_cursor(cursor)
    if after is not None:
        stmt = stmt.where(
            (model.created_at < after.created_at)
            | ((model.created_at == after.created_at) & (model.id < after.id))
        )
    stmt = stmt.order_by(model.created_at.desc(), model.id.desc()).limit(limit + 1)
    rows = list(session.scalars(stmt))
    items = rows[:limit]
    nxt = encode_cursor(items[-1].created_at, items[-1].id) if len(rows) > limit else None
    return Page(items, nxt)
