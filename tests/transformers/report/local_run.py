"""Run a tool's real pipeline in-process, with storage in a local directory: the report and
output files exactly as a worker writes them, without a queue."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from transformers.engine.budget import Budget
from transformers.pipeline import InputRef, PipelineJob, ResumeState, run_pipeline
from transformers.registry import get_tool


class LocalStorage:
    def __init__(self, root: Path) -> None:
        self.root = root

    def download_file(self, key: str, dest: Path) -> None:
        shutil.copy(self.root / key, dest)

    def upload_file(self, path: Path, key: str, content_type: str | None = None) -> int:
        target = self.root / key
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, target)
        return target.stat().st_size


class NoHooks:
    fatal_errors: tuple[type[BaseException], ...] = ()

    def step(self, name: str, progress: int) -> None: ...
    def agent_started(self, agent_id: str, index: int, total: int, progress: int) -> None: ...
    def agent_finished(self, result: Any, checkpoint: Any) -> None: ...
    def resume_state(self, storage: Any, work_dir: Path) -> ResumeState:
        return ResumeState()

    def cancelled(self) -> bool:
        return False

    def check_billing(self, agents: list[str]) -> None: ...


def run_local(
    tool_id: str,
    files: dict[str, Path],
    root: Path,
    agents: list[str] | None = None,
    budget: Budget | None = None,
) -> dict[str, Path]:
    """Output name -> local path (report.json, report.xlsx, report.html, ...). A ``budget``
    smaller than the inputs sends them down the out-of-core path (a ``ScanFrame`` each)."""
    refs = []
    for role, path in files.items():
        key = f"inputs/{role}/{path.name}"
        (root / key).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, root / key)
        refs.append(InputRef(role, key, path.name))
    tool = get_tool(tool_id)
    job = PipelineJob(
        task_id=f"task-{tool_id}",
        tenant_id="tenant",
        tool_id=tool_id,
        agents=agents or list(tool.agent_ids),
        parameters={},
        inputs=refs,
        budget=budget,
    )
    outcome = run_pipeline(job, LocalStorage(root), NoHooks())
    return {o["name"]: root / o["key"] for o in outcome.outputs if (root / o["key"]).exists()}


def load_report(outputs: dict[str, Path]) -> dict[str, Any]:
    return json.loads(outputs["report.json"].read_text(encoding="utf-8"))  # type: ignore[no-any-return]


SAMPLE = Path(__file__).resolve().parents[3] / "core" / "samples" / "customers.csv"


def baseline_csv() -> bytes:
    """The sample with every age 10 years older: drift in one numeric column."""
    header, *rows = SAMPLE.read_text(encoding="utf-8").strip().splitlines()
    out = [header]
    for row in rows:
        f = row.split(",")
        if f[3]:
            f[3] = str(int(f[3]) + 10)
        out.append(",".join(f))
    return ("\n".join(out) + "\n").encode()


def messy_csv(n: int = 300) -> bytes:
    """The first ``n`` rows with missing e-mails, unparseable ages, and every 7th customer
    entered twice (new id, upper-cased name): work for clean-my-data and master-my-data."""
    header, *rows = SAMPLE.read_text(encoding="utf-8").strip().splitlines()
    out = [header]
    for i, row in enumerate(rows[:n]):
        f = row.split(",")
        if i % 10 == 0:
            f[2] = ""
        if i % 17 == 0:
            f[3] = "abc"
        out.append(",".join(f))
        if i % 7 == 0:
            g = f[:]
            g[0] = str(10_000 + i)
            g[1] = g[1].upper()
            out.append(",".join(g))
    return ("\n".join(out) + "\n").encode()
