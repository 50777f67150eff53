"""Every model, imported so that Alembic and the test suite see all tables in one metadata."""

from billing.models import AgentPrice, LedgerEntry, StripeEvent, Wallet
from core.db import Base
from tasks.models import AgentRun, IdempotencyRecord, Task, TaskFile, TaskOutput
from tenants.models import ApiKey, CallbackSecret, Plan, Tenant

metadata = Base.metadata

__all__ = [
    "AgentPrice",
    "AgentRun",
    "ApiKey",
    "CallbackSecret",
    "IdempotencyRecord",
    "LedgerEntry",
    "Plan",
    "StripeEvent",
    "Task",
    "TaskFile",
    "TaskOutput",
    "Tenant",
    "Wallet",
    "metadata",
]
