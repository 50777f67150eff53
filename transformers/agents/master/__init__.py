"""master-my-data agents, in the registry's canonical order (matching before survivorship).

``AGENTS`` is derived from the registry entries (their ``impl`` paths)."""

from transformers.agents import bind_tool
from transformers.contract import AgentFn
from transformers.registry import MASTER

AGENTS: dict[str, AgentFn] = bind_tool(MASTER)
