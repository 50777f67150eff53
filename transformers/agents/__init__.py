"""Worker-side binding of agent ids to their implementations.

Each family package exposes ``AGENTS: dict[str, AgentFn]``. Importing this module imports the
data stack, so only workers (and tests) do it; the gateway reads ``transformers.registry``.
"""

from __future__ import annotations

import importlib
from functools import cache

from transformers.contract import AgentFn
from transformers.errors import UnknownAgentError

FAMILIES = (
    "transformers.agents.profile",
    "transformers.agents.clean",
    "transformers.agents.master",
)


@cache
def implementations() -> dict[str, AgentFn]:
    table: dict[str, AgentFn] = {}
    for module_name in FAMILIES:
        module = importlib.import_module(module_name)
        table.update(module.AGENTS)
    return table


def load_agent(agent_id: str) -> AgentFn:
    try:
        return implementations()[agent_id]
    except KeyError:
        raise UnknownAgentError(
            f"No implementation registered for agent '{agent_id}'", details={"agent_id": agent_id}
        ) from None
