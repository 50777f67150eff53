"""Tools and their agents, straight from the registry (and the live price table)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from billing import service as billing
from gateway.deps import PrincipalDep, SessionDep
from gateway.errors import responses
from tenants.models import Tenant
from tenants.schemas import Principal
from transformers.registry import TOOLS, ToolSpec, get_tool

router = APIRouter(prefix="/v1/tools", tags=["tools"], responses=responses(401, 429, 503))


class AgentOut(BaseModel):
    agent_id: str
    title: str
    description: str
    position: int
    price: int
    requires_roles: list[str]
    changes_data: bool
    parameters: dict[str, Any]


class FileRoleOut(BaseModel):
    role: str
    required: bool
    description: str
    formats: list[str]


class LimitsOut(BaseModel):
    """The caller's plan limits that apply to this tool's input files."""

    max_file_bytes: int
    max_rows: int
    max_columns: int
    max_cell_length: int


class ToolOut(BaseModel):
    tool_id: str
    title: str
    description: str
    queue: str
    chained: bool
    allow_custom_order: bool
    file_roles: list[FileRoleOut]
    agents: list[AgentOut] = Field(description="In the order they run by default.")
    limits: LimitsOut | None = Field(
        None, description="Your plan's input limits (absent for operator keys)."
    )


def _limits(session: Session, principal: Principal) -> LimitsOut | None:
    if principal.tenant_id is None:
        return None
    tenant = session.get(Tenant, principal.tenant_id)
    if tenant is None:
        return None
    p = tenant.plan
    return LimitsOut(
        max_file_bytes=p.max_file_bytes,
        max_rows=p.max_rows,
        max_columns=p.max_columns,
        max_cell_length=p.max_cell_length,
    )


def tool_out(tool: ToolSpec, prices: dict[str, int], limits: LimitsOut | None = None) -> ToolOut:
    return ToolOut(
        tool_id=tool.tool_id,
        title=tool.title,
        description=tool.description,
        queue=tool.queue_name,
        chained=tool.chained,
        allow_custom_order=tool.allow_custom_order,
        file_roles=[
            FileRoleOut(
                role=r.name, required=r.required, description=r.description, formats=list(r.formats)
            )
            for r in tool.file_roles
        ],
        agents=[
            AgentOut(
                agent_id=a.agent_id,
                title=a.title,
                description=a.description,
                position=i,
                price=prices.get(a.agent_id, a.price),
                requires_roles=list(a.requires_roles),
                changes_data=a.changes_data,
                parameters=a.params.model_json_schema(),
            )
            for i, a in enumerate(tool.agents)
        ],
        limits=limits,
    )


@router.get("", response_model=list[ToolOut], summary="List tools")
def list_tools(principal: PrincipalDep, session: SessionDep) -> list[ToolOut]:
    """Every tool: agents in default order with price and parameter JSON schema (with
    defaults), file roles and accepted formats, and your plan's input limits."""
    prices = billing.prices(session)
    limits = _limits(session, principal)
    return [tool_out(t, prices, limits) for t in TOOLS.values()]


@router.get("/{tool_id}", response_model=ToolOut, responses=responses(422), summary="One tool")
def get_tool_endpoint(
    tool_id: Annotated[str, Path(max_length=64, examples=list(TOOLS))],
    principal: PrincipalDep,
    session: SessionDep,
) -> ToolOut:
    """One tool (422 ``UNKNOWN_TOOL`` for an id that is not registered)."""
    return tool_out(get_tool(tool_id), billing.prices(session), _limits(session, principal))
