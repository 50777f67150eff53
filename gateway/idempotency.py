"""Idempotency-Key with Stripe's semantics: same key + same body replays the first successful
response (with ``Idempotent-Replayed: true``); same key + a different body is 422
``IDEMPOTENCY_KEY_REUSED``; a second request while the first still runs is 409
``IDEMPOTENCY_IN_PROGRESS``; keys are kept 24 hours, per tenant and endpoint. A key is claimed
in its own committed transaction before the work starts, so two concurrent requests cannot both
run."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from core.db import session_scope, utcnow
from core.errors import ConflictError, ValidationFailedError
from tenants.repository import owned_by
from workers.models import IdempotencyRecord

TTL = dt.timedelta(hours=24)


class IdempotencyKeyReused(ValidationFailedError):
    code = "IDEMPOTENCY_KEY_REUSED"


class IdempotencyInProgress(ConflictError):
    code = "IDEMPOTENCY_IN_PROGRESS"


def _hash(body: Any) -> str:
    return hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()


async def idempotent(
    tenant_id: str,
    key: str | None,
    scope: str,
    body: Any,
    run: Callable[[], Awaitable[tuple[int, dict[str, Any]]]],
) -> tuple[int, dict[str, Any], bool]:
    """Return (status, body, replayed)."""
    if not key:
        status, out = await run()
        return status, out, False
    if len(key) > 255:
        raise ValidationFailedError(
            "Idempotency-Key is at most 255 characters", code="INVALID_IDEMPOTENCY_KEY"
        )
    request_hash = _hash(body)
    record_id = _claim(tenant_id, key, scope, request_hash)
    if isinstance(record_id, tuple):
        status, out = record_id
        return status, out, True
    try:
        status, out = await run()
    except BaseException:
        # Only a success is replayed. An error changed nothing (a create that failed stored
        # nothing, a process that failed queued nothing), so the key is freed and a retry with
        # the same key runs again: after a top-up, an upload, or the end of a 503.
        _forget(record_id)
        raise
    _store(record_id, status, out)
    return status, out, False


def _claim(
    tenant_id: str, key: str, scope: str, request_hash: str
) -> str | tuple[int, dict[str, Any]]:
    for _ in range(2):
        with session_scope() as session:
            session.execute(
                delete(IdempotencyRecord).where(IdempotencyRecord.created_at < utcnow() - TTL)
            )
            existing = session.scalars(
                select(IdempotencyRecord).where(
                    owned_by(IdempotencyRecord, tenant_id),
                    IdempotencyRecord.scope == scope,
                    IdempotencyRecord.key == key,
                )
            ).first()
            if existing is not None:
                if existing.request_hash != request_hash:
                    raise IdempotencyKeyReused(
                        "This Idempotency-Key was used with a different request body",
                        details={"idempotency_key": key},
                    )
                if existing.response_status is None:
                    raise IdempotencyInProgress(
                        "A request with this Idempotency-Key is still in progress",
                        details={"idempotency_key": key},
                    )
                return existing.response_status, existing.response_body or {}
        try:
            with session_scope() as session:
                record = IdempotencyRecord(
                    tenant_id=tenant_id, scope=scope, key=key, request_hash=request_hash
                )
                session.add(record)
                session.flush()
                return record.id
        except IntegrityError:
            continue  # a concurrent request claimed it: read what it stored
    raise IdempotencyInProgress("A request with this Idempotency-Key is still in progress")


def _store(record_id: str, status: int, body: dict[str, Any]) -> None:
    with session_scope() as session:
        record = session.get(IdempotencyRecord, record_id)
        if record is not None:
            record.response_status = status
            record.response_body = json.loads(json.dumps(body, default=str))


def _forget(record_id: str) -> None:
    with session_scope() as session:
        session.execute(delete(IdempotencyRecord).where(IdempotencyRecord.id == record_id))
