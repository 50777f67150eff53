"""Tenant-facing and operator-facing shapes."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from pydantic import BaseModel, Field

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


class TenantCreate(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    plan: str = Field("free", description="Plan id: free, pro or enterprise.")


class TenantUpdate(BaseModel):
    plan: str | None = Field(None, description="Move the tenant to another plan (applies at once).")
    name: str | None = Field(None, min_length=1, max_length=200)


class TenantOut(BaseModel):
    tenant_id: str
    name: str
    plan: str
    created_at: dt.datetime


class ApiKeyCreate(BaseModel):
    name: str = Field("default", max_length=200)
    scopes: list[str] = Field(
        default_factory=lambda: list(TENANT_SCOPES),
        description=f"Subset of {list(TENANT_SCOPES)}; tenants never get the admin scope.",
    )


class ApiKeyCreated(BaseModel):
    key_id: str
    api_key: str = Field(description="The secret. Shown once; store it now.")
    prefix: str
    scopes: list[str]
