"""The clean-my-data agents, chained: each one's output frame feeds the next.

Order: cleanse-previewer, quarantine-agent, type-fixer, field-standardization,
duplicate-resolver, null-handler, outlier-remover, cleanse-writeback. Each module's docstring
documents its rules and choices; ``_common`` holds the shared parsing and change-log helpers.
"""

from transformers.agents.clean import (
    cleanse_previewer,
    cleanse_writeback,
    duplicate_resolver,
    field_standardization,
    null_handler,
    outlier_remover,
    quarantine,
    type_fixer,
)
from transformers.contract import AgentFn

#: Chain order (the registry's order for clean-my-data).
CHAIN: tuple[str, ...] = (
    "cleanse-previewer",
    "quarantine-agent",
    "type-fixer",
    "field-standardization",
    "duplicate-resolver",
    "null-handler",
    "outlier-remover",
    "cleanse-writeback",
)

AGENTS: dict[str, AgentFn] = {
    "cleanse-previewer": cleanse_previewer.run,  # type: ignore[dict-item]
    "quarantine-agent": quarantine.run,  # type: ignore[dict-item]
    "type-fixer": type_fixer.run,  # type: ignore[dict-item]
    "field-standardization": field_standardization.run,  # type: ignore[dict-item]
    "duplicate-resolver": duplicate_resolver.run,  # type: ignore[dict-item]
    "null-handler": null_handler.run,  # type: ignore[dict-item]
    "outlier-remover": outlier_remover.run,  # type: ignore[dict-item]
    "cleanse-writeback": cleanse_writeback.run,  # type: ignore[dict-item]
}
