"""master-my-data agents, in the registry's canonical order (matching before survivorship)."""

from transformers.agents.master import (
    contract_enforcer,
    golden_record_builder,
    key_identifier,
    lineage_tracer,
    master_writeback,
    semantic_mapper,
    stewardship_flagger,
    survivorship_resolver,
)
from transformers.contract import AgentFn

AGENTS: dict[str, AgentFn] = {
    "key-identifier": key_identifier.run,
    "contract-enforcer": contract_enforcer.run,
    "semantic-mapper": semantic_mapper.run,
    "golden-record-builder": golden_record_builder.run,
    "survivorship-resolver": survivorship_resolver.run,
    "stewardship-flagger": stewardship_flagger.run,
    "lineage-tracer": lineage_tracer.run,
    "master-writeback-agent": master_writeback.run,
}
