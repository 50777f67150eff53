"""Tools and their agents, straight from the registry (and the live price table)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel

from billing import service as billing
from gateway.deps import PrincipalDep, SessionDep
from gateway.errors import responses
from transformers.registry import TOOLS, ToolSpec, get_tool

router = APIRouter(prefix="/v1/tools", tags=["tools"])


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


class ToolOut(BaseModel):
    tool_id: str
    title: str
    description: str
    queue: str
    chained: bool
    allow_custom_order: bool
    file_roles: list[FileRoleOut]
    agents: list[AgentOut]


def tool_out(tool: ToolSpec, prices: dict[str, int]) -> ToolOut:
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
    )


@router.get("", response_model=list[ToolOut], responses=responses(401))
def list_tools(_: PrincipalDep, session: SessionDep) -> list[ToolOut]:
    """Every tool: agents in default order with price and parameter schema (with defaults),
    file roles and accepted formats."""
    prices = billing.prices(session)
    return [tool_out(t, prices) for t in TOOLS.values()]


@router.get("/{tool_id}", response_model=ToolOut, responses=responses(401, 422))
def get_tool_endpoint(tool_id: str, _: PrincipalDep, session: SessionDep) -> ToolOut:
    """One tool (422 ``UNKNOWN_TOOL`` for an id that is not registered)."""
    return tool_out(get_tool(tool_id), billing.prices(session))
