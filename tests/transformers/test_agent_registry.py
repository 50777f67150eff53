"""The registry and the implementations agree: every entry resolves to a function that takes
its declared parameters class, chain order / previewer simulation / memoisation follow from
the entries, and a new agent needs only a module and a registry entry."""

from __future__ import annotations

import inspect
import typing
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

import transformers.agents as agents
from tests.transformers.report.local_run import LocalStorage, NoHooks
from transformers import registry
from transformers.agents import implementations, load_agent, raw_implementation
from transformers.agents.clean import AGENTS as CLEAN_AGENTS
from transformers.agents.clean import CHAIN
from transformers.agents.clean.cleanse_previewer import SIMULATED
from transformers.pipeline import AgentCheckpoint, InputRef, PipelineJob, run_pipeline
from transformers.registry import AgentSpec, ToolSpec, all_agents


@pytest.mark.parametrize("agent_id", sorted(all_agents()))
def test_each_entry_resolves_to_a_function_taking_its_params_class(agent_id: str) -> None:
    spec = all_agents()[agent_id]
    fn = raw_implementation(spec)
    assert callable(fn), spec.impl
    names = list(inspect.signature(fn).parameters)
    assert names[:3] == ["frame", "params", "ctx"], (spec.impl, names)
    hints = typing.get_type_hints(fn)
    assert hints["params"] is spec.params, (spec.impl, hints["params"], spec.params)


def test_every_registered_agent_is_bound_and_nothing_else() -> None:
    assert set(implementations()) == set(all_agents())


def test_clean_wiring_follows_the_registry() -> None:
    assert list(CHAIN) == registry.CLEAN.agent_ids
    changing = [a.agent_id for a in registry.CLEAN.agents if a.changes_data]
    assert list(SIMULATED) == changing
    for spec in registry.CLEAN.agents:
        bound = CLEAN_AGENTS[spec.agent_id]
        memoised = bound is not raw_implementation(spec)
        assert memoised == spec.changes_data, spec.agent_id
        assert SIMULATED.get(spec.agent_id, spec.params) is spec.params


class _Hooks(NoHooks):
    def __init__(self) -> None:
        self.finished: list[str] = []

    def agent_finished(self, result: Any, checkpoint: AgentCheckpoint) -> None:
        self.finished.append(result.agent_id)


def test_a_toy_agent_needs_only_a_module_and_a_registry_entry(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from tests.transformers.toy_agent import ToyParams

    toy = ToolSpec(
        tool_id="toy-tool",
        title="Toy",
        description="A tool with one toy agent.",
        file_roles=(registry.PRIMARY,),
        chained=False,
        agents=(
            AgentSpec(
                "toy-counter",
                "Toy counter",
                "Counts rows.",
                1,
                ToyParams,
                impl="tests.transformers.toy_agent:run",
            ),
        ),
    )
    monkeypatch.setitem(registry.TOOLS, toy.tool_id, toy)
    agents.implementations.cache_clear()
    try:
        assert load_agent("toy-counter").__module__ == "tests.transformers.toy_agent"
        (tmp_path / "in").mkdir()
        (tmp_path / "in" / "data.csv").write_text("a,b\n1,x\n2,y\n3,z\n")
        job = PipelineJob(
            task_id="t-toy",
            tenant_id="tenant",
            tool_id="toy-tool",
            agents=["toy-counter"],
            parameters={"toy-counter": {"multiplier": 5}},
            inputs=[InputRef("primary", "in/data.csv", "data.csv")],
            key_prefix="out/",
        )
        hooks = _Hooks()
        outcome = run_pipeline(job, LocalStorage(tmp_path), hooks)
        assert outcome.status == "COMPLETED"
        assert hooks.finished == ["toy-counter"]
        agent = next(a for a in outcome.report["agents"] if a["agent_id"] == "toy-counter")
        assert agent["data"]["rows_times"] == 15
    finally:
        agents.implementations.cache_clear()


def test_an_entry_without_an_implementation_is_refused() -> None:
    spec = replace(registry.PROFILE.agents[0], impl="")
    with pytest.raises(Exception, match="names no implementation"):
        raw_implementation(spec)
