"""Worker-side binding of agent ids to their implementations.

Each ``AgentSpec`` in ``transformers.registry`` names its implementation by dotted path
(``impl``); a tool may name a ``bind`` hook that wraps each of its implementations. Importing
the implementations imports the data stack, so only workers (and tests) call this; the gateway
reads ``transformers.registry`` alone.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from functools import cache
from typing import Any

from transformers.contract import AgentFn
from transformers.errors import UnknownAgentError
from transformers.registry import TOOLS, AgentSpec, ToolSpec


def resolve(path: str) -> Any:
    """The object a ``package.module:attribute`` path names."""
    module, sep, attr = path.partition(":")
    if not sep or not module or not attr:
        raise ValueError(f"not a 'module:attribute' path: {path!r}")
    return getattr(importlib.import_module(module), attr)


def raw_implementation(spec: AgentSpec) -> AgentFn:
    """The agent's own function, without its tool's ``bind`` wrapper."""
    if not spec.impl:
        raise UnknownAgentError(
            f"Agent '{spec.agent_id}' names no implementation", details={"agent_id": spec.agent_id}
        )
    fn: AgentFn = resolve(spec.impl)
    return fn


def bind_tool(tool: ToolSpec) -> dict[str, AgentFn]:
    """Every agent of ``tool`` bound to its implementation (wrapped by ``tool.bind``)."""
    wrap: Callable[[AgentSpec, AgentFn], AgentFn] | None = resolve(tool.bind) if tool.bind else None
    table: dict[str, AgentFn] = {}
    for spec in tool.agents:
        fn = raw_implementation(spec)
        table[spec.agent_id] = wrap(spec, fn) if wrap is not None else fn
    return table


@cache
def implementations() -> dict[str, AgentFn]:
    table: dict[str, AgentFn] = {}
    for tool in TOOLS.values():
        table.update(bind_tool(tool))
    return table


def load_agent(agent_id: str) -> AgentFn:
    try:
        return implementations()[agent_id]
    except KeyError:
        raise UnknownAgentError(
            f"No implementation registered for agent '{agent_id}'", details={"agent_id": agent_id}
        ) from None
