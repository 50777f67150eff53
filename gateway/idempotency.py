"""Idempotency-Key with Stripe's semantics: same key + same body replays the first successful
response (with ``Idempotent-Replayed: true``); same key + a different body is 422
``IDEMPOTENCY_KEY_REUSED``; a second request while the first still runs is 409
``IDEMPOTENCY_IN_PROGRESS``; keys are kept 24 hours, per tenant and endpoint. A key is claimed
in its own committed transaction before the work starts, so two concurrent requests cannot both
run.

A request that died (its gateway was killed) leaves its key in progress with no one to finish
it. Once the claim is older than ``GATEWAY_REQUEST_TIMEOUT_SECONDS`` no live request can still
own it: the next request with that key takes it over (or the sweeper releases it), and what the
dead request had half-created (``note_pending``: the one-shot create's task) is discarded."""

from __future__ import annotations

import contextvars
import datetime as dt
import hashlib
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from core.db import session_scope, utcnow
from core.errors import ConflictError, ValidationFailedError
from tasks.models import IdempotencyRecord
from tenants.repository import owned_by
from workers.dead_requests import PENDING, release, stale_before

log = logging.getLogger(__name__)
TTL = dt.timedelta(hours=24)
_current: contextvars.ContextVar[str | None] = contextvars.ContextVar("idem_record", default=None)


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
    token = _current.set(record_id)
    try:
        status, out = await run()
    except BaseException:
        # Only a success is replayed. An error changed nothing (a create that failed stored
        # nothing, a process that failed queued nothing), so the key is freed and a retry with
        # the same key runs again: after a top-up, an upload, or the end of a 503.
        _forget(record_id)
        raise
    finally:
        _current.reset(token)
    _store(record_id, status, out)
    return status, out, False


def note_pending(task_id: str) -> None:
    """Record on the current request's claim (if any) the task it created, so that if the
    request dies, whoever takes its key over removes that task. Call from the request."""
    record_id = _current.get()
    if record_id is None:
        return
    with session_scope() as session:
        record = session.get(IdempotencyRecord, record_id)
        if record is not None and record.response_status is None:
            record.response_body = {PENDING: {"task_id": task_id}}


def _claim(
    tenant_id: str, key: str, scope: str, request_hash: str
) -> str | tuple[int, dict[str, Any]]:
    for _ in range(3):
        stale: str | None = None
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
                if existing.response_status is None and existing.created_at < stale_before():
                    stale = existing.id  # its request died: take the key over (below)
                elif existing.response_status is None:
                    raise IdempotencyInProgress(
                        "A request with this Idempotency-Key is still in progress",
                        details={"idempotency_key": key},
                    )
                else:
                    assert existing.response_status is not None
                    return existing.response_status, existing.response_body or {}
        if stale is not None:
            release(stale)
            continue  # claim afresh (a concurrent taker may have won: then we read its claim)
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
