from transformers.contract import AgentFn

AGENTS: dict[str, AgentFn] = {}
