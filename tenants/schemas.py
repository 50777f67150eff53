"""Tenant-facing and operator-facing shapes."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from pydantic import BaseModel, Field

from core.inputs import IdStr, RequestModel, text

ADMIN_SCOPE = "admin"
TENANT_SCOPES = ("tasks", "billing", "usage")


@dataclass(frozen=True)
class Principal:
    """Who is calling. Operators (admin scope) have no tenant."""

    tenant_id: str | None
    key_id: str | None
    plan_id: str | None
    scopes: frozenset[str] = field(default_factory=frozenset)

    @property
    def is_admin(self) -> bool:
        return ADMIN_SCOPE in self.scopes


class PlanOut(BaseModel):
    id: str
    name: str
    submit_per_minute: int
    read_per_minute: int
    max_concurrent_tasks: int
    max_concurrent_tasks_per_tool: int
    max_file_bytes: int
    max_rows: int
    max_columns: int
    postpaid: bool


class TenantCreate(RequestModel):
    name: text(200, 1)  # type: ignore[valid-type]
    plan: IdStr = Field("free", description="Plan id: free, pro or enterprise.")  # type: ignore[valid-type]


class TenantUpdate(RequestModel):
    plan: IdStr | None = Field(  # type: ignore[valid-type]
        None, description="Move the tenant to another plan (applies at once)."
    )
    name: text(200, 1) | None = None  # type: ignore[valid-type]
    disabled: bool | None = Field(
        None,
        description="true disables the tenant (its keys and session tokens stop working within "
        "seconds); false enables it again.",
    )
    return_origins: list[text(200)] | None = Field(  # type: ignore[valid-type]
        None,
        max_length=20,
        description="Origins (https://host[:port]) top-up success/cancel URLs may point at.",
    )


class TenantOut(BaseModel):
    tenant_id: str
    name: str
    plan: str
    created_at: dt.datetime
    disabled_at: dt.datetime | None = None
    return_origins: list[str] = Field(default_factory=list)


class ApiKeyCreate(RequestModel):
    name: text(200) = "default"  # type: ignore[valid-type]
    scopes: list[IdStr] = Field(  # type: ignore[valid-type]
        default_factory=lambda: list(TENANT_SCOPES),
        max_length=10,
        description=f"Subset of {list(TENANT_SCOPES)}; tenants never get the admin scope.",
    )
    expires_at: dt.datetime | None = Field(
        None, description="When the key stops working (ISO 8601; default: never)."
    )


class ApiKeyCreated(BaseModel):
    key_id: str
    api_key: str = Field(description="The secret. Shown once; store it now.")
    prefix: str
    scopes: list[str]
    expires_at: dt.datetime | None


class ApiKeyOut(BaseModel):
    key_id: str
    prefix: str
    name: str
    scopes: list[str]
    created_at: dt.datetime
    last_used_at: dt.datetime | None = Field(
        description="Last successful authentication (to within a minute)."
    )
    expires_at: dt.datetime | None
    revoked_at: dt.datetime | None
