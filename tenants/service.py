"""Tenants, plans and keys: create, authenticate, revoke. Services flush; boundaries commit."""

from __future__ import annotations

import threading
import time

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.db import utcnow
from core.settings import get_settings
from tenants import security
from tenants.exceptions import InvalidApiKey, InvalidScopes, TenantNotFound, UnknownPlan
from tenants.models import ApiKey, Plan, Tenant
from tenants.repository import get_owned
from tenants.schemas import ADMIN_SCOPE, TENANT_SCOPES, Principal

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
    session: Session, tenant_id: str, name: str = "default", scopes: list[str] | None = None
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
    key = ApiKey(
        tenant_id=tenant_id,
        name=name,
        prefix=prefix,
        hashed_key=security.hash_key(secret),
        scopes=sorted(set(chosen)),
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

    with session_scope() as session:
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
    if not security.matches(raw_key, key.hashed_key):
        raise InvalidApiKey("Invalid API key")
    if key.revoked_at is not None:
        raise InvalidApiKey("This API key was revoked")
    if tenant.disabled_at is not None:
        raise InvalidApiKey("This tenant is disabled")
    principal = Principal(
        tenant_id=tenant.id, key_id=key.id, plan_id=tenant.plan_id, scopes=frozenset(key.scopes)
    )
    with _cache_lock:
        _cache[digest] = (now + get_settings().principal_cache_seconds, principal)
    return principal
