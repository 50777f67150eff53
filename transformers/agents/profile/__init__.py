"""The profile-my-data agents (they all read the same input; see ``registry.PROFILE``).

``AGENTS`` is derived from the registry entries (their ``impl`` paths)."""

from transformers.agents import bind_tool
from transformers.contract import AgentFn
from transformers.registry import PROFILE

AGENTS: dict[str, AgentFn] = bind_tool(PROFILE)
