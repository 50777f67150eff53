"""The profile-my-data agents (they all read the same input; see ``registry.PROFILE``)."""

from transformers.agents.profile import unified_profiler
from transformers.contract import AgentFn

AGENTS: dict[str, AgentFn] = {
    "unified-profiler": unified_profiler.run,  # type: ignore[dict-item]
}
