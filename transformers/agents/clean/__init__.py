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
from transformers.agents.clean._memo import memoised
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

#: The data-changing agents reuse the previewer's simulation when their input, parameters and
#: aliases are exactly those it simulated (see ``_memo``).
AGENTS: dict[str, AgentFn] = {
    "cleanse-previewer": cleanse_previewer.run,  # type: ignore[dict-item]
    "quarantine-agent": memoised("quarantine-agent", quarantine.run),
    "type-fixer": memoised("type-fixer", type_fixer.run),
    "field-standardization": memoised("field-standardization", field_standardization.run),
    "duplicate-resolver": memoised("duplicate-resolver", duplicate_resolver.run),
    "null-handler": memoised("null-handler", null_handler.run),
    "outlier-remover": memoised("outlier-remover", outlier_remover.run),
    "cleanse-writeback": cleanse_writeback.run,  # type: ignore[dict-item]
}
