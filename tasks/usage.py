"""Usage: credits captured, tasks by final status, rows/bytes processed and task durations over
a time window, grouped by UTC day, tool or agent, for one tenant or across tenants.

Every read is an index range query over the window (see docs/usage.md):

- captures: ``ledger_entries (tenant_id, kind, created_at)`` for one tenant,
  ``(kind, created_at)`` across tenants;
- tasks: ``tasks (tenant_id, finished_at)`` for one tenant, ``(finished_at)`` across tenants;
- agent runs: reached from those tasks through ``agent_runs (task_id, agent_id)``.

Percentiles are computed in Python from the durations those range queries return, with the
same definition as PostgreSQL's ``percentile_cont`` (linear interpolation between ranks). One
code path on SQLite and PostgreSQL, so both backends answer the same numbers; the cost is that
the window's rows travel to the gateway (a few columns per task), which is bounded by the
window (at most ``MAX_WINDOW_DAYS``).
"""

from __future__ import annotations

import datetime as dt
import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from billing.models import EntryKind, LedgerEntry
from tasks.models import FINAL_STATUSES, AgentRun, Task
from tenants.repository import owned_by

MAX_WINDOW_DAYS = 366
DEFAULT_WINDOW_DAYS = 30
_STATUSES = sorted(s.value for s in FINAL_STATUSES)
AnySelect = Select[*tuple[Any, ...]]


class GroupBy(StrEnum):
    DAY = "day"
    TOOL = "tool"
    AGENT = "agent"


def percentile(values: list[float], q: float) -> float | None:
    """``percentile_cont(q)``: linear interpolation between the closest ranks (numpy's
    default). None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q
    lo = math.floor(pos)
    hi = math.ceil(pos)
    if lo == hi:
        return float(ordered[lo])
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


@dataclass
class _Acc:
    credits: int = 0
    tasks: dict[str, int] = field(default_factory=lambda: dict.fromkeys(_STATUSES, 0))
    rows: int = 0
    bytes: int = 0
    durations: list[float] = field(default_factory=list)

    def add_task(
        self,
        status: str,
        rows: int | None,
        nbytes: int | None,
        duration_ms: float | None,
    ) -> None:
        self.tasks[status] = self.tasks.get(status, 0) + 1
        self.rows += rows or 0
        self.bytes += nbytes or 0
        if duration_ms is not None:
            self.durations.append(duration_ms)

    def out(self, key: str) -> dict[str, Any]:
        p50 = percentile(self.durations, 0.5)
        p95 = percentile(self.durations, 0.95)
        return {
            "key": key,
            "credits": self.credits,
            "tasks": dict(self.tasks),
            "tasks_total": sum(self.tasks.values()),
            "rows_processed": self.rows,
            "bytes_processed": self.bytes,
            "duration_ms_p50": round(p50, 3) if p50 is not None else None,
            "duration_ms_p95": round(p95, 3) if p95 is not None else None,
        }


def _ms(start: dt.datetime | None, end: dt.datetime | None) -> float | None:
    if start is None or end is None:
        return None
    return (end - start).total_seconds() * 1000.0


#: The tenant argument of the statements below that means "every tenant" (operators only).
ALL_TENANTS: None = None


def _day(ts: dt.datetime) -> str:
    if ts.tzinfo is not None:
        ts = ts.astimezone(dt.UTC)
    return ts.date().isoformat()


def _of_tenant(stmt: AnySelect, model: Any, tenant_id: str | None) -> AnySelect:
    """One tenant's rows (through the tenant door), or every tenant's for ``ALL_TENANTS``."""
    return stmt if tenant_id is ALL_TENANTS else stmt.where(owned_by(model, tenant_id))


def captures_statement(tenant_id: str | None, start: dt.datetime, end: dt.datetime) -> AnySelect:
    """Capture entries in [start, end): an index range on (tenant_id, kind, created_at), or
    (kind, created_at) across tenants."""
    stmt = select(
        LedgerEntry.tenant_id,
        LedgerEntry.created_at,
        LedgerEntry.amount,
        LedgerEntry.tool_id,
        LedgerEntry.agent_id,
    ).where(
        LedgerEntry.kind == EntryKind.CAPTURE.value,
        LedgerEntry.created_at >= start,
        LedgerEntry.created_at < end,
    )
    return _of_tenant(stmt, LedgerEntry, tenant_id)


def tasks_statement(tenant_id: str | None, start: dt.datetime, end: dt.datetime) -> AnySelect:
    """Tasks that ended in [start, end): an index range on (tenant_id, finished_at), or
    (finished_at) across tenants. Only ended tasks have ``finished_at``."""
    stmt = select(
        Task.id,
        Task.tenant_id,
        Task.tool_id,
        Task.status,
        Task.rows_processed,
        Task.bytes_processed,
        Task.started_at,
        Task.finished_at,
    ).where(Task.finished_at >= start, Task.finished_at < end)
    return _of_tenant(stmt, Task, tenant_id)


def agent_runs_statement(tenant_id: str | None, start: dt.datetime, end: dt.datetime) -> AnySelect:
    """The agent runs of those tasks: the task range, then agent_runs by (task_id, agent_id)."""
    stmt = (
        select(
            AgentRun.agent_id,
            AgentRun.duration_ms,
            Task.status,
            Task.rows_processed,
            Task.bytes_processed,
        )
        .select_from(Task)
        .join(AgentRun, AgentRun.task_id == Task.id)
        .where(Task.finished_at >= start, Task.finished_at < end)
    )
    return _of_tenant(stmt, Task, tenant_id)


def _days(start: dt.datetime, end: dt.datetime) -> list[str]:
    day = start.astimezone(dt.UTC).date()
    last = (end - dt.timedelta(microseconds=1)).astimezone(dt.UTC).date()
    out = []
    while day <= last:
        out.append(day.isoformat())
        day += dt.timedelta(days=1)
    return out


def tenant_usage(
    session: Session, tenant_id: str, start: dt.datetime, end: dt.datetime, group_by: GroupBy
) -> dict[str, Any]:
    """One tenant's usage in [start, end) (``GET /v1/usage``)."""
    return _usage(session, tenant_id, start, end, group_by)


def usage_all_tenants(
    session: Session, start: dt.datetime, end: dt.datetime, group_by: GroupBy, *, top_tenants: int
) -> dict[str, Any]:
    """Every tenant's usage summed, with the ``top_tenants`` that were charged the most
    (operators only: ``GET /v1/admin/usage``)."""
    return _usage(session, ALL_TENANTS, start, end, group_by, top_tenants=top_tenants)


def _usage(
    session: Session,
    tenant_id: str | None,
    start: dt.datetime,
    end: dt.datetime,
    group_by: GroupBy,
    *,
    top_tenants: int = 0,
) -> dict[str, Any]:
    """Usage of one tenant (or of all tenants for ``ALL_TENANTS``) in [start, end).

    Credits are the captures posted in the window (``-amount`` of ``capture`` entries); tasks,
    rows, bytes and durations are those of the tasks that ended in the window. With
    ``group_by=agent`` a task counts in the group of every agent it ran, rows and bytes too, and
    the durations are the agents' own run times; the totals count each task once.
    """
    groups: dict[str, _Acc] = defaultdict(_Acc)
    if group_by is GroupBy.DAY:
        for d in _days(start, end):
            groups[d] = _Acc()
    total = _Acc()
    per_tenant: dict[str, int] = defaultdict(int)

    for row in session.execute(captures_statement(tenant_id, start, end)):
        credits = -int(row.amount)
        total.credits += credits
        per_tenant[row.tenant_id] += credits
        key = _capture_key(group_by, row)
        groups[key].credits += credits

    for row in session.execute(tasks_statement(tenant_id, start, end)):
        duration = _ms(row.started_at, row.finished_at)
        total.add_task(row.status, row.rows_processed, row.bytes_processed, duration)
        if group_by is GroupBy.DAY:
            groups[_day(row.finished_at)].add_task(
                row.status, row.rows_processed, row.bytes_processed, duration
            )
        elif group_by is GroupBy.TOOL:
            groups[row.tool_id].add_task(
                row.status, row.rows_processed, row.bytes_processed, duration
            )

    if group_by is GroupBy.AGENT:
        for row in session.execute(agent_runs_statement(tenant_id, start, end)):
            groups[row.agent_id].add_task(
                row.status,
                row.rows_processed,
                row.bytes_processed,
                float(row.duration_ms) if row.duration_ms is not None else None,
            )

    ordered = sorted(groups) if group_by is GroupBy.DAY else _by_credits(groups)
    out: dict[str, Any] = {
        "from": start,
        "to": end,
        "group_by": group_by.value,
        "groups": [groups[k].out(k) for k in ordered],
        "totals": total.out("total"),
    }
    if tenant_id is ALL_TENANTS and top_tenants:
        out["top_tenants"] = _top(session, per_tenant, top_tenants)
    return out


def _capture_key(group_by: GroupBy, row: Any) -> str:
    if group_by is GroupBy.DAY:
        return _day(row.created_at)
    if group_by is GroupBy.TOOL:
        return str(row.tool_id or "unknown")
    return str(row.agent_id or "unknown")


def _by_credits(groups: dict[str, _Acc]) -> list[str]:
    return sorted(groups, key=lambda k: (-groups[k].credits, k))


def _top(session: Session, per_tenant: dict[str, int], n: int) -> list[dict[str, Any]]:
    from tenants.models import Tenant

    best = sorted(per_tenant.items(), key=lambda kv: (-kv[1], kv[0]))[:n]
    names = _tenant_names(session, [t for t, _ in best], Tenant)
    return [{"tenant_id": t, "name": names.get(t), "credits": credits} for t, credits in best]


def _tenant_names(session: Session, ids: Iterable[str], model: Any) -> dict[str, str]:
    ids = list(ids)
    if not ids:
        return {}
    return dict(session.execute(select(model.id, model.name).where(model.id.in_(ids))).all())
