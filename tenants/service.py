"""Tenants, plans and keys: create, authenticate, revoke. Services flush; boundaries commit."""

from __future__ import annotations

import datetime as dt
import threading
import time

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from core.db import utcnow
from core.settings import get_settings
from tenants import security
from tenants.exceptions import InvalidApiKey, InvalidScopes, TenantNotFound, UnknownPlan
from tenants.models import ApiKey, Plan, Tenant
from tenants.repository import get_owned, scoped
from tenants.schemas import ADMIN_SCOPE, TENANT_SCOPES, Principal

#: ``last_used_at`` is written at most this often per key (a conditional UPDATE).
LAST_USED_RESOLUTION = dt.timedelta(minutes=1)

DEFAULT_PLANS: tuple[dict[str, object], ...] = (
    {
        "id": "free",
        "name": "Free",
        "submit_per_minute": 30,
        "read_per_minute": 600,
        "max_concurrent_tasks": 3,
        "max_concurrent_tasks_per_tool": 2,
        "max_file_bytes": 50 * 1024 * 1024,
        "max_rows": 1_000_000,
        "max_columns": 2_000,
    },
    {
        "id": "pro",
        "name": "Pro",
        "submit_per_minute": 600,
        "read_per_minute": 6_000,
        "max_concurrent_tasks": 20,
        "max_concurrent_tasks_per_tool": 10,
        "max_file_bytes": 2 * 1024 * 1024 * 1024,
        "max_rows": 50_000_000,
        "max_columns": 5_000,
    },
    {
        "id": "enterprise",
        "name": "Enterprise (postpaid)",
        "submit_per_minute": 3_000,
        "read_per_minute": 30_000,
        "max_concurrent_tasks": 100,
        "max_concurrent_tasks_per_tool": 50,
        "max_file_bytes": 10 * 1024 * 1024 * 1024,
        "max_rows": 500_000_000,
        "max_columns": 10_000,
        "postpaid": True,
    },
)


def ensure_default_plans(session: Session) -> None:
    for data in DEFAULT_PLANS:
        if session.get(Plan, data["id"]) is None:
            session.add(Plan(**data))
    session.flush()


def create_tenant(session: Session, name: str, plan_id: str = "free") -> Tenant:
    if session.get(Plan, plan_id) is None:
        raise UnknownPlan(f"Unknown plan '{plan_id}'", details={"plan": plan_id})
    tenant = Tenant(name=name, plan_id=plan_id)
    session.add(tenant)
    session.flush()
    return tenant


def get_tenant(session: Session, tenant_id: str) -> Tenant:
    tenant = session.get(Tenant, tenant_id)
    if tenant is None:
        raise TenantNotFound("Tenant not found", details={"tenant_id": tenant_id})
    return tenant


def change_plan(session: Session, tenant_id: str, plan_id: str) -> Tenant:
    tenant = get_tenant(session, tenant_id)
    if session.get(Plan, plan_id) is None:
        raise UnknownPlan(f"Unknown plan '{plan_id}'", details={"plan": plan_id})
    tenant.plan_id = plan_id
    session.flush()
    invalidate_principals()
    return tenant


def issue_key(
    session: Session,
    tenant_id: str,
    name: str = "default",
    scopes: list[str] | None = None,
    expires_at: dt.datetime | None = None,
) -> tuple[ApiKey, str]:
    get_tenant(session, tenant_id)
    chosen = list(scopes) if scopes is not None else list(TENANT_SCOPES)
    bad = [s for s in chosen if s not in TENANT_SCOPES]
    if bad or not chosen:
        raise InvalidScopes(
            f"Invalid scopes: {bad or 'none given'}"
            + (" (the admin scope is never granted to tenant keys)" if ADMIN_SCOPE in bad else ""),
            details={"invalid": bad, "allowed": list(TENANT_SCOPES)},
        )
    secret, prefix = security.generate_key()
    kid, hashed = security.hash_key_with(secret)
    key = ApiKey(
        tenant_id=tenant_id,
        name=name,
        prefix=prefix,
        hashed_key=hashed,
        hash_kid=kid,
        scopes=sorted(set(chosen)),
        expires_at=expires_at,
    )
    session.add(key)
    session.flush()
    return key, secret


def revoke_key(session: Session, tenant_id: str, key_id: str) -> ApiKey:
    key = get_owned(session, ApiKey, tenant_id, key_id)
    if key is None:
        raise TenantNotFound("API key not found", details={"key_id": key_id})
    if key.revoked_at is None:
        key.revoked_at = utcnow()
    session.flush()
    invalidate_principals()
    return key


def list_keys(session: Session, tenant_id: str) -> list[ApiKey]:
    get_tenant(session, tenant_id)
    return list(session.scalars(scoped(ApiKey, tenant_id).order_by(ApiKey.created_at, ApiKey.id)))


def set_disabled(session: Session, tenant_id: str, disabled: bool) -> Tenant:
    """Disable (every key and session token stops working within seconds) or enable."""
    tenant = get_tenant(session, tenant_id)
    if disabled and tenant.disabled_at is None:
        tenant.disabled_at = utcnow()
    elif not disabled:
        tenant.disabled_at = None
    session.flush()
    invalidate_principals()
    return tenant


def touch_key(session: Session, key_id: str) -> None:
    """Record a use: one conditional UPDATE that changes nothing if the key was marked used
    within ``LAST_USED_RESOLUTION`` (so a busy key costs one write a minute, on any replica)."""
    now = utcnow()
    session.execute(
        update(ApiKey)
        .where(
            ApiKey.id == key_id,
            or_(ApiKey.last_used_at.is_(None), ApiKey.last_used_at < now - LAST_USED_RESOLUTION),
        )
        .values(last_used_at=now)
    )


def check_usable(key: ApiKey, tenant: Tenant) -> None:
    """Revoked, expired and disabled-tenant keys are refused (401, each with its own message)."""
    if key.revoked_at is not None:
        raise InvalidApiKey("This API key was revoked")
    if key.expires_at is not None and key.expires_at <= utcnow():
        raise InvalidApiKey("This API key expired", code="API_KEY_EXPIRED")
    if tenant.disabled_at is not None:
        raise InvalidApiKey("This tenant is disabled", code="TENANT_DISABLED")


# A short in-process cache of resolved principals: a key is resolved with one indexed lookup and
# an HMAC, then reused for ``PRINCIPAL_CACHE_SECONDS``; revocation and plan changes therefore
# apply everywhere within that many seconds (and at once on the process that made the change).
_cache: dict[str, tuple[float, Principal]] = {}
_cache_lock = threading.Lock()

ADMIN_PRINCIPAL = Principal(
    tenant_id=None, key_id=None, plan_id=None, scopes=frozenset({ADMIN_SCOPE})
)


def invalidate_principals() -> None:
    """Forget resolved principals and plans (a key was revoked, a plan changed)."""
    with _cache_lock:
        _cache.clear()
        _plans.clear()


#: plan id -> (expiry, detached Plan): the plan is read once per PRINCIPAL_CACHE_SECONDS, like
#: the principal that names it. Callers only read its limits.
_plans: dict[str, tuple[float, Plan]] = {}


def plan_of(tenant_id: str, plan_id: str | None) -> Plan:
    """The plan's limits (a detached row), cached for ``PRINCIPAL_CACHE_SECONDS``."""
    now = time.monotonic()
    if plan_id is not None:
        with _cache_lock:
            hit = _plans.get(plan_id)
        if hit is not None and hit[0] > now:
            return hit[1]
    from core.db import session_scope

    with session_scope(read_only=True) as session:
        if plan_id is not None:
            plan = session.get(Plan, plan_id)
        else:
            tenant = session.get(Tenant, tenant_id)
            plan = tenant.plan if tenant is not None else None
        if plan is None:
            raise UnknownPlan(f"Unknown plan '{plan_id}'", details={"plan": plan_id})
        session.expunge(plan)
    with _cache_lock:
        _plans[plan.id] = (now + get_settings().principal_cache_seconds, plan)
    return plan


def cached_principal(raw_key: str) -> Principal | None:
    """The principal for a key without touching the database: the operator key, or a key
    resolved within the last ``PRINCIPAL_CACHE_SECONDS``. None means "look it up"."""
    if security.is_admin_key(raw_key):
        return ADMIN_PRINCIPAL
    digest = security.hash_key(raw_key)
    with _cache_lock:
        hit = _cache.get(digest)
    if hit is not None and hit[0] > time.monotonic():
        return hit[1]
    return None


def authenticate(session: Session, raw_key: str) -> Principal:
    cached = cached_principal(raw_key)
    if cached is not None:
        return cached
    now = time.monotonic()
    digest = security.hash_key(raw_key)
    prefix = security.parse_prefix(raw_key)
    if prefix is None:
        raise InvalidApiKey("Invalid API key")
    row = session.execute(
        select(ApiKey, Tenant)
        .join(Tenant, Tenant.id == ApiKey.tenant_id)
        .where(ApiKey.prefix == prefix)
    ).first()
    if row is None:
        raise InvalidApiKey("Invalid API key")
    key, tenant = row
    if not security.matches(raw_key, key.hashed_key, key.hash_kid):
        raise InvalidApiKey("Invalid API key")
    check_usable(key, tenant)
    primary = security.hash_key_with(raw_key)
    if key.hash_kid != primary[0]:
        # Hashed with an older server key (a rotation is under way): re-hash with the primary,
        # so the old key can be retired once every key in use has been seen.
        session.execute(
            update(ApiKey)
            .where(ApiKey.id == key.id, ApiKey.hashed_key == key.hashed_key)
            .values(hash_kid=primary[0], hashed_key=primary[1])
        )
    touch_key(session, key.id)
    principal = Principal(
        tenant_id=tenant.id, key_id=key.id, plan_id=tenant.plan_id, scopes=frozenset(key.scopes)
    )
    ttl = get_settings().principal_cache_seconds
    if key.expires_at is not None:
        ttl = min(ttl, (key.expires_at - utcnow()).total_seconds())
    with _cache_lock:
        _cache[digest] = (now + ttl, principal)
    return principal
