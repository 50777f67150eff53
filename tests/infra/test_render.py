"""The per-tool infra is generated from the tool registry and the committed files match it."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from gateway.cli import app as cli
from gateway.cli import infra
from transformers.params import profile as pp
from transformers.registry import PRIMARY, TOOLS, AgentSpec, ToolSpec

ROOT = Path(__file__).resolve().parents[2]

EXTRA = ToolSpec(
    tool_id="enrich-my-data",
    title="Enrich my data",
    description="A tool registered after the manifests were written.",
    file_roles=(PRIMARY,),
    chained=False,
    agents=(AgentSpec("enricher", "Enricher", "Adds columns.", 5, pp.UnifiedProfilerParams),),
    queue="enrich",
)


def test_committed_files_match_the_registry(tmp_path: Path) -> None:
    """Render into a temporary tree and compare with what is committed."""
    (tmp_path / "infra").mkdir()
    shutil.copy(ROOT / infra.COMPOSE, tmp_path / infra.COMPOSE)
    files = infra.render(root=tmp_path)
    infra.write(files, tmp_path)
    for rel in files:
        assert (tmp_path / rel).read_text() == (ROOT / rel).read_text(), (
            f"{rel} is out of date: run `agensium infra render`"
        )


def test_registering_a_tool_adds_its_queue_pool_and_scaler(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(TOOLS, EXTRA.tool_id, EXTRA)
    files = infra.render()
    docs = list(yaml.safe_load_all(files[infra.K8S_WORKERS]))
    (dep,) = [
        d
        for d in docs
        if d["metadata"]["name"] == "agensium-worker-enrich-my-data" and d["kind"] == "Deployment"
    ]
    command = dep["spec"]["template"]["spec"]["containers"][0]["command"]
    assert command[command.index("-Q") + 1] == "enrich"
    (so,) = [
        d
        for d in docs
        if d["kind"] == "ScaledObject"
        and d["spec"]["scaleTargetRef"]["name"] == "agensium-worker-enrich-my-data"
    ]
    assert so["spec"]["triggers"][0]["metadata"]["listName"] == "enrich"
    compose = yaml.safe_load(files[infra.COMPOSE])
    service = compose["services"]["worker-enrich-my-data"]
    assert service["command"][service["command"].index("-Q") + 1] == "enrich"
    assert (
        service["stop_grace_period"]
        == compose["services"]["worker-profile-my-data"]["stop_grace_period"]
    )
    # The Celery app declares the new queue too (it reads the same registry).
    from core.settings import Settings
    from workers.config import celery_config

    assert "enrich" in {q.name for q in celery_config(Settings())["task_queues"]}
    # And the committed files are now stale: the drift check would fail.
    assert infra.K8S_WORKERS in infra.differences(files)


def test_render_check_exits_non_zero_on_drift(tmp_path: Path) -> None:
    (tmp_path / "infra").mkdir()
    shutil.copy(ROOT / infra.COMPOSE, tmp_path / infra.COMPOSE)
    runner = CliRunner()
    result = runner.invoke(cli, ["infra", "render", "--root", str(tmp_path)])
    assert result.exit_code == 0, result.output
    ok = runner.invoke(cli, ["infra", "render", "--check", "--root", str(tmp_path)])
    assert ok.exit_code == 0, ok.output
    generated = tmp_path / infra.K8S_WORKERS
    generated.write_text(generated.read_text().replace("listLength: '2'", "listLength: '9'"))
    stale = runner.invoke(cli, ["infra", "render", "--check", "--root", str(tmp_path)])
    assert stale.exit_code == 1
    assert "workers.generated.yaml" in stale.output


def test_hand_edits_outside_the_generated_block_survive(tmp_path: Path) -> None:
    text = (ROOT / infra.COMPOSE).read_text().replace("name: agensium\n", "name: mine\n", 1)
    block = infra.render_compose_block(dict(TOOLS))
    spliced = infra.splice_compose(text, block)
    assert "name: mine\n" in spliced
    assert spliced.count(infra.COMPOSE_BEGIN) == 1
    with pytest.raises(ValueError):
        infra.splice_compose("services: {}\n", block)


def test_worker_memory_is_sized_from_the_task_budget() -> None:
    """Each pool's pods get the budget its task processes obey (WORKER_MEMORY_LIMIT_MB), and
    their memory request covers every process at that budget; compose caps the same."""
    from core.settings import Settings

    docs = list(yaml.safe_load_all((ROOT / infra.K8S_WORKERS).read_text()))
    compose = yaml.safe_load((ROOT / infra.COMPOSE).read_text())["services"]
    for tool_id, _tool in TOOLS.items():
        pool = infra.pool_for(tool_id)
        name = f"agensium-worker-{infra.k8s_name(tool_id)}"
        dep = next(d for d in docs if d["kind"] == "Deployment" and d["metadata"]["name"] == name)
        container = dep["spec"]["template"]["spec"]["containers"][0]
        env = {e["name"]: e.get("value") for e in container["env"]}
        budget = int(env["WORKER_MEMORY_LIMIT_MB"])
        concurrency = int(env["CELERY_WORKER_CONCURRENCY"])
        request = int(container["resources"]["requests"]["memory"].removesuffix("Mi"))
        limit = int(container["resources"]["limits"]["memory"].removesuffix("Mi"))
        assert budget == pool.task_memory_mb
        assert request >= concurrency * budget, tool_id
        assert limit >= request
        assert int(env["CELERY_WORKER_MAX_MEMORY_PER_CHILD"]) > budget * 1024
        service = compose[f"worker-{infra.k8s_name(tool_id)}"]
        assert service["environment"]["WORKER_MEMORY_LIMIT_MB"] == str(budget)
        assert service["mem_limit"] == f"{limit}m"
    default = Settings.model_fields["worker_memory_limit_mb"].default
    assert infra.pool_for("profile-my-data").task_memory_mb == default
