"""Nested JSON / JSON Lines read as dotted columns, and whole tools run on them through the
engine's pipeline (local directory storage): profile-my-data, clean-my-data without the
writeback agent (the cleaned data is handed back anyway), master-my-data (output sizes)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from transformers.io import ReadOptions, read_table
from transformers.pipeline import (
    AgentCheckpoint,
    InputRef,
    PipelineJob,
    ResumeState,
    run_pipeline,
)
from transformers.registry import get_tool

RECORDS = [
    {"id": 1, "user": {"name": "u1", "age": 21, "home": {"city": "Lyon", "geo": {"lat": 45.7}}},
     "tags": ["a", "b"], "amount": "1.234,50"},
    {"id": 2, "user": {"name": "u2", "age": 35}, "tags": [], "amount": "12,00"},
    {"id": 3, "user": {"name": " u3 ", "age": None}, "tags": ["c"], "amount": "7,25"},
    {"id": 3, "user": {"name": " u3 ", "age": None}, "tags": ["c"], "amount": "7,25"},
]  # fmt: skip


class DirStorage:
    """Object storage on a local directory: keys are relative paths."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def download_file(self, key: str, dest: Path) -> None:
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(self.root / key, dest)

    def upload_file(self, path: Path, key: str, content_type: str | None = None) -> int:
        target = self.root / key
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)
        return target.stat().st_size


class Hooks:
    fatal_errors: tuple[type[BaseException], ...] = ()

    def step(self, name: str, progress: int) -> None: ...
    def agent_started(self, agent_id: str, index: int, total: int, progress: int) -> None: ...
    def agent_finished(self, result: Any, checkpoint: AgentCheckpoint) -> None: ...
    def resume_state(self, storage: Any, work_dir: Path) -> ResumeState:
        return ResumeState()

    def cancelled(self) -> bool:
        return False

    def check_billing(self, agents: list[str]) -> None: ...


@pytest.fixture(params=["json", "jsonl"])
def nested_file(request: pytest.FixtureRequest, tmp_path: Path) -> Path:
    path = tmp_path / f"people.{request.param}"
    if request.param == "json":
        path.write_text(json.dumps(RECORDS))
    else:
        path.write_text("\n".join(json.dumps(r) for r in RECORDS) + "\n")
    return path


def test_nested_records_read_as_dotted_columns(nested_file: Path) -> None:
    table = read_table(
        nested_file, filename=nested_file.name, role="primary", options=ReadOptions()
    )
    frame = table.frame
    assert frame.columns[1:] == [
        "id", "user.name", "user.age", "user.home.city", "user.home.geo", "tags", "amount"
    ]  # fmt: skip
    assert frame["user.age"].to_list() == [21, 35, None, None]
    assert frame["user.home.city"].to_list() == ["Lyon", None, None, None]
    assert frame["tags"].to_list() == ['["a","b"]', "[]", '["c"]', '["c"]']
    assert frame["user.home.geo"].to_list()[0] == '{"lat":45.7}'  # deeper than the limit
    sources = table.info.column_sources
    assert sources["user.home.city"] == {"path": ["user", "home", "city"]}
    assert sources["tags"] == {"path": ["tags"], "json_text": "list"}
    assert any("nested JSON flattened" in n for n in table.notes)


def _run(tool_id: str, agents: list[str], src: Path, root: Path) -> Any:
    storage = DirStorage(root)
    key = f"in/{src.name}"
    storage.upload_file(src, key)
    job = PipelineJob(
        task_id="task-nested-0001",
        tenant_id="t",
        tool_id=tool_id,
        agents=agents,
        parameters={},
        inputs=[InputRef("primary", key, src.name)],
        key_prefix="tenants/t/tasks/x/",
    )
    return run_pipeline(job, storage, Hooks()), storage


def test_profile_my_data_runs_on_nested_json(nested_file: Path, tmp_path: Path) -> None:
    agents = get_tool("profile-my-data").agent_ids
    outcome, _ = _run("profile-my-data", agents, nested_file, tmp_path / "s3")
    assert outcome.status == "COMPLETED"
    agents_out = {a["agent_id"]: a for a in outcome.report["agents"]}
    columns = agents_out["unified-profiler"]["data"]["columns"]
    assert columns["user.name"]["source_path"] == ["user", "name"]
    assert columns["tags"]["json_text"] == "list" and "JSON text" in columns["tags"]["note"]
    assert columns["amount"]["inferred_type"] == "float"
    assert columns["amount"]["detected_format"]["decimal_mark"] == ","


def test_clean_without_writeback_hands_back_the_cleaned_data(
    nested_file: Path, tmp_path: Path
) -> None:
    agents = ["type-fixer", "field-standardization", "duplicate-resolver", "null-handler"]
    outcome, storage = _run("clean-my-data", agents, nested_file, tmp_path / "s3")
    assert outcome.status == "COMPLETED"
    outputs = {o["name"]: o for o in outcome.outputs}
    assert "cleaned.csv" in outputs, sorted(outputs)
    cleaned = outputs["cleaned.csv"]
    assert cleaned["kind"] == "data" and cleaned["size"] > 0
    data = pl.read_csv(storage.root / cleaned["key"])
    assert "__row_id__" not in data.columns
    assert data.height == 3  # the exact duplicate removed
    assert sorted(data["amount"].to_list()) == [7.25, 12.0, 1234.5]  # decimal comma read
    assert all(o["size"] is not None for o in outcome.outputs)


def test_clean_with_writeback_adds_no_second_copy(nested_file: Path, tmp_path: Path) -> None:
    agents = ["type-fixer", "cleanse-writeback"]
    outcome, _ = _run("clean-my-data", agents, nested_file, tmp_path / "s3")
    data_outputs = [o["name"] for o in outcome.outputs if o["kind"] == "data"]
    assert data_outputs.count("cleaned.csv") == 1


def test_master_outputs_have_sizes(tmp_path: Path) -> None:
    src = tmp_path / "people.csv"
    pl.DataFrame(
        {
            "first_name": ["Ann", "Ann", "Bob", "Cy"],
            "last_name": ["Lee", "Lee", "Stone", "Park"],
            "email": ["ann@x.org", "ann@x.org", "bob@y.org", "cy@z.org"],
            "city": ["Lyon", "Lyon", "Nice", "Metz"],
        }
    ).write_csv(src)
    agents = get_tool("master-my-data").agent_ids
    outcome, _ = _run("master-my-data", agents, src, tmp_path / "s3")
    sizes = {o["name"]: o["size"] for o in outcome.outputs}
    for name in ("cross_reference.csv", "golden_records.csv", "lineage.csv"):
        assert name in sizes, sorted(sizes)
        assert isinstance(sizes[name], int) and sizes[name] > 0, name
