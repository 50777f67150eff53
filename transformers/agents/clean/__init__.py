"""The clean-my-data agents, chained: each one's output frame feeds the next.

Order: cleanse-previewer, quarantine-agent, type-fixer, field-standardization,
duplicate-resolver, null-handler, outlier-remover, cleanse-writeback (the registry's order).
Each module's docstring documents its rules and choices; ``_common`` holds the shared parsing
and change-log helpers. ``AGENTS`` and ``CHAIN`` are derived from the registry: the
data-changing agents (``changes_data``) reuse the previewer's simulation (``_memo.bind``).
"""

from transformers.agents import bind_tool
from transformers.contract import AgentFn
from transformers.registry import CLEAN

#: Chain order (the registry's order for clean-my-data).
CHAIN: tuple[str, ...] = tuple(CLEAN.agent_ids)

AGENTS: dict[str, AgentFn] = bind_tool(CLEAN)
