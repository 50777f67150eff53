"""The transformer pipeline: the seven steps every tool shares.

1. load the input files from storage      2. convert each to a typed frame (parsed once)
3. resolve parameters over the defaults   4. check billing (hook)
5. run the agents in order, with progress, checkpoints and cancellation between agents
6. build the report                       7. upload the outputs

It knows nothing about the database or the queue: the worker passes ``PipelineHooks`` that
persist progress, capture credits and answer "was this task cancelled?". Tests pass their own.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from opentelemetry import trace

from transformers.agents import load_agent
from transformers.contract import (
    ROW_ID,
    AgentContext,
    AgentResult,
    AgentStatus,
    Change,
    ChangeBlock,
    ChangeKind,
    Changes,
    InputInfo,
    OutputFile,
    RowIssueBlock,
    RowIssues,
    carry_renames,
)
from transformers.engine.budget import Budget, apply_budget, budget_from_settings
from transformers.engine.peak import peak_rss_mb, reset_peak
from transformers.errors import InvalidParametersError
from transformers.io import ReadOptions, read_document, read_table
from transformers.registry import DEFAULT_REPORT_FORMATS, ToolSpec, get_tool
from transformers.report import build_report, write_report_outputs
from transformers.serialization import jsonable, result_from_dict, result_to_dict

log = logging.getLogger(__name__)
tracer = trace.get_tracer("agensium.pipeline")

# Progress budget: loading and parsing take the first 10%, agents 10..90, report/upload the rest.
PROGRESS_LOADED = 10
PROGRESS_AGENTS_END = 90
PROGRESS_REPORT = 95


class Storage(Protocol):
    def download_file(self, key: str, dest: Path) -> None: ...
    def upload_file(self, path: Path, key: str, content_type: str | None = None) -> int: ...


@dataclass
class InputRef:
    role: str
    key: str
    filename: str


@dataclass
class PipelineJob:
    task_id: str
    tenant_id: str
    tool_id: str
    agents: list[str]
    parameters: dict[str, dict[str, Any]]
    inputs: list[InputRef]
    read_options: ReadOptions = field(default_factory=ReadOptions)
    #: ``tenants/{t}/tasks/{id}/`` — outputs go under ``outputs/``, checkpoints under ``work/``.
    key_prefix: str = ""
    #: The memory budget this task runs under (default: ``WORKER_MEMORY_LIMIT_MB``).
    budget: Budget | None = None
    #: The report's renderings to build (``registry.report_formats``; JSON always).
    report_formats: tuple[str, ...] = DEFAULT_REPORT_FORMATS


@dataclass
class ResumeState:
    """What a previous attempt finished: results by agent id and the frame after the last one."""

    results: dict[str, AgentResult] = field(default_factory=dict)
    frame_path: Path | None = None
    column_aliases: dict[str, str] = field(default_factory=dict)


@dataclass
class AgentCheckpoint:
    """Handed to the hook when an agent finishes; keys point at what was already uploaded."""

    result_key: str
    frame_key: str | None
    column_aliases: dict[str, str]


class PipelineHooks(Protocol):
    def step(self, name: str, progress: int) -> None: ...
    def agent_started(self, agent_id: str, index: int, total: int, progress: int) -> None: ...
    def agent_finished(self, result: AgentResult, checkpoint: AgentCheckpoint) -> None: ...
    def resume_state(self, storage: Storage, work_dir: Path) -> ResumeState: ...
    def cancelled(self) -> bool: ...
    def check_billing(self, agents: list[str]) -> None: ...

    #: Exceptions that must stop the whole task rather than fail one agent (the worker passes
    #: Celery's SoftTimeLimitExceeded here; the engine itself does not know about Celery).
    fatal_errors: tuple[type[BaseException], ...]


class Cancelled(Exception):
    """Raised between agents when the task was cancelled; partial results stay recorded."""


@dataclass
class PipelineOutcome:
    status: str  # COMPLETED | COMPLETED_WITH_ERRORS
    report: dict[str, Any]
    outputs: list[dict[str, Any]]  # {name, kind, key, size}
    rows_processed: int


def run_pipeline(job: PipelineJob, storage: Storage, hooks: PipelineHooks) -> PipelineOutcome:
    tool = get_tool(job.tool_id)
    work_dir = Path(tempfile.mkdtemp(prefix=f"agensium-{job.task_id[:8]}-"))
    try:
        return _run(job, tool, storage, hooks, work_dir)
    finally:
        shutil.rmtree(work_dir, ignore_errors=True)


def _span(name: str, job: PipelineJob, **attrs: Any) -> Any:
    base = {"tenant_id": job.tenant_id, "task_id": job.task_id, "tool_id": job.tool_id}
    return tracer.start_as_current_span(name, attributes={**base, **attrs})


def _run(
    job: PipelineJob, tool: ToolSpec, storage: Storage, hooks: PipelineHooks, work_dir: Path
) -> PipelineOutcome:
    started = time.perf_counter()
    timings: dict[str, int] = {}
    peak_known = reset_peak()

    # 1 + 2. Load and parse every input once.
    with _span("pipeline.load", job):
        hooks.step("loading", 2)
        frames, infos, documents = _load_inputs(job, tool, storage, work_dir)
    timings["load_ms"] = _ms(started)
    hooks.step("loaded", PROGRESS_LOADED)

    # 3. Parameters over each agent's defaults (validated again: the worker trusts nothing).
    with _span("pipeline.parameters", job):
        params = {a: _agent_params(tool, a, job.parameters.get(a, {})) for a in job.agents}

    # 4. Billing.
    with _span("pipeline.billing_check", job):
        hooks.check_billing(job.agents)

    # 5. Agents.
    resume = hooks.resume_state(storage, work_dir)
    results: dict[str, AgentResult] = dict(resume.results)
    aliases: dict[str, str] = dict(resume.column_aliases)
    current = frames["primary"]
    if resume.frame_path is not None:
        import polars as pl

        current = pl.read_parquet(resume.frame_path)

    agents_started = time.perf_counter()
    total = len(job.agents)
    for index, agent_id in enumerate(job.agents):
        if agent_id in results:
            continue
        if hooks.cancelled():
            raise Cancelled(job.task_id)
        spec = tool.agent(agent_id)
        progress = PROGRESS_LOADED + int((PROGRESS_AGENTS_END - PROGRESS_LOADED) * index / total)
        hooks.agent_started(agent_id, index, total, progress)
        ctx = AgentContext(
            task_id=job.task_id,
            tenant_id=job.tenant_id,
            tool_id=job.tool_id,
            agent_id=agent_id,
            frames=frames,
            inputs=infos,
            work_dir=work_dir / agent_id,
            results=results,
            column_aliases=aliases,
            documents=documents,
        )
        ctx.work_dir.mkdir(parents=True, exist_ok=True)
        input_frame = current if tool.chained else frames["primary"]
        with _span(
            f"agent {agent_id}", job, agent_id=agent_id, rows=int(input_frame.height)
        ) as span:
            missing = [r for r in spec.requires_roles if r not in frames and r not in documents]
            if missing:
                result = AgentResult(
                    agent_id=agent_id,
                    status=AgentStatus.SKIPPED,
                    error_code="MISSING_FILE",
                    error=f"Skipped: needs the {', '.join(missing)} file",
                )
            else:
                result = _execute(agent_id, input_frame, params[agent_id], ctx, hooks.fatal_errors)
            span.set_attribute("agent.status", str(result.status))
            # Inside the agent's span: the line carries its trace and span ids.
            log.info(
                "agent.finished agent_id=%s status=%s duration_ms=%s",
                agent_id,
                result.status,
                result.duration_ms,
            )
        if result.status == AgentStatus.SUCCESS and result.frame is not None:
            _check_frame(agent_id, result)
            if tool.chained:
                current = result.frame
        carry_renames(aliases, result.renames)
        with _span("pipeline.checkpoint", job, agent_id=agent_id):
            checkpoint = _checkpoint(job, storage, work_dir, result, current, tool, aliases)
        results[agent_id] = result
        hooks.agent_finished(result, checkpoint)
        result.frame = None  # the checkpoint holds it; free memory
    timings["agents_ms"] = _ms(agents_started)

    # 6. Report.
    hooks.step("report", PROGRESS_REPORT)
    peak = peak_rss_mb() if peak_known else None
    if peak is not None:
        # The task process's own high-water mark through the agents (VmHWM, reset at start).
        timings["peak_rss_agents_mb"] = peak
    with _span("pipeline.report", job):
        ordered = [results[a] for a in job.agents if a in results]
        report = build_report(
            task_id=job.task_id,
            tool=tool,
            results=ordered,
            inputs=infos,
            timings={**timings, "total_ms": _ms(started)},
        )
        final_frame = current if tool.chained else None
        files = write_report_outputs(
            report,
            ordered,
            work_dir / "report",
            final_frame,
            frames=frames,
            inputs=infos,
            formats=job.report_formats,
        )
        data_file = _data_output(tool, ordered, final_frame, work_dir / "data")
        if data_file is not None:
            files.append(data_file)
        if peak_known:
            _record_peak(report, files)

    # 7. Upload.
    with _span("pipeline.upload", job, files=len(files)):
        uploaded = _upload_all(job, storage, files)
        uploaded += [
            {"name": o.name, "kind": o.kind, "key": _output_key(job, o.name), "size": o.size}
            for r in ordered
            for o in r.outputs
        ]
    failed = any(r.status == AgentStatus.FAILED for r in ordered)
    return PipelineOutcome(
        status="COMPLETED_WITH_ERRORS" if failed else "COMPLETED",
        report=report,
        outputs=uploaded,
        rows_processed=int(frames["primary"].height),
    )


def _load_inputs(
    job: PipelineJob, tool: ToolSpec, storage: Storage, work_dir: Path
) -> tuple[dict[str, Any], dict[str, InputInfo], dict[str, Any]]:
    frames: dict[str, Any] = {}
    infos: dict[str, InputInfo] = {}
    documents: dict[str, Any] = {}
    inputs_dir = work_dir / "inputs"
    inputs_dir.mkdir()
    tables: list[tuple[InputRef, Path]] = []
    for ref in job.inputs:
        role = tool.role(ref.role)
        local = inputs_dir / f"{ref.role}"
        with _span("pipeline.download", job, role=ref.role):
            storage.download_file(ref.key, local)
        if role is not None and not role.tabular:
            documents[ref.role] = read_document(local, filename=ref.filename)
        else:
            tables.append((ref, local))
    # All of a task's tables are in memory at once: they fit the budget together, or each that
    # can be streamed goes to a working copy.
    budget = job.budget or budget_from_settings()
    total = sum(local.stat().st_size for _, local in tables)
    out_of_core = tool.out_of_core and not budget.fits_in_memory(total)
    for ref, local in tables:
        with _span("pipeline.parse", job, role=ref.role) as span:
            loaded, streamed = _parse(job, local, ref, work_dir / "working", budget, out_of_core)
            span.set_attribute("out_of_core", streamed)
        frames[ref.role] = loaded.frame
        infos[ref.role] = loaded.info
        local.unlink(missing_ok=True)
    return frames, infos, documents


def _record_peak(report: dict[str, Any], files: list[OutputFile]) -> None:
    """The task's peak memory up to its written report (VmHWM), in ``timings.peak_rss_mb`` of
    the report and of report.json (re-written: it is capped, so small)."""
    peak = peak_rss_mb()
    if peak is None:
        return
    report.setdefault("timings", {})["peak_rss_mb"] = peak
    for f in files:
        if f.name == "report.json" and f.path is not None:
            with f.path.open("w", encoding="utf-8") as out:
                json.dump(report, out, ensure_ascii=False, default=str)


def _parse(
    job: PipelineJob, local: Path, ref: InputRef, working: Path, budget: Budget, out_of_core: bool
) -> tuple[Any, bool]:
    """Parse one input: into memory, or (``out_of_core`` and a format that streams) into a
    Parquet working copy the agents scan out of core. True when it went out of core."""
    if out_of_core:
        from transformers.io.working_copy import build_working_copy, streams

        if streams(local, ref.filename):
            apply_budget(budget)
            copy = build_working_copy(
                local,
                filename=ref.filename,
                role=ref.role,
                options=job.read_options,
                dest_dir=working,
                budget=budget,
            )
            return copy, True
    table = read_table(local, filename=ref.filename, role=ref.role, options=job.read_options)
    return table, False


def _agent_params(tool: ToolSpec, agent_id: str, given: dict[str, Any]) -> Any:
    from pydantic import ValidationError

    try:
        return tool.agent(agent_id).params.model_validate(given)
    except ValidationError as exc:
        raise InvalidParametersError(
            f"parameters.{agent_id}: {exc.errors()[0]['msg']}",
            details={"agent_id": agent_id},
        ) from None


def _execute(
    agent_id: str,
    frame: Any,
    params: Any,
    ctx: AgentContext,
    fatal: tuple[type[BaseException], ...] = (),
) -> AgentResult:
    """Run one agent; an exception inside it fails that agent, not the task (except ``fatal``
    ones such as a time limit, which end the task with the agents that finished kept)."""
    from core.errors import AppError

    fn: Callable[..., AgentResult] = load_agent(agent_id)
    t0 = time.perf_counter()
    try:
        result = fn(frame, params, ctx)
    except fatal:
        raise
    except AppError as exc:
        result = AgentResult(
            agent_id=agent_id, status=AgentStatus.FAILED, error_code=exc.code, error=exc.message
        )
    except Exception as exc:
        log.exception("agent.crashed agent_id=%s task_id=%s", agent_id, ctx.task_id)
        result = AgentResult(
            agent_id=agent_id,
            status=AgentStatus.FAILED,
            error_code="AGENT_ERROR",
            error=f"{type(exc).__name__}: {exc}",
        )
    result.agent_id = agent_id
    result.duration_ms = _ms(t0)
    return result


def _check_frame(agent_id: str, result: AgentResult) -> None:
    frame = result.frame
    if frame is not None and ROW_ID not in frame.columns:
        raise RuntimeError(f"agent {agent_id} dropped the {ROW_ID} column")


def _checkpoint(
    job: PipelineJob,
    storage: Storage,
    work_dir: Path,
    result: AgentResult,
    frame: Any,
    tool: ToolSpec,
    aliases: dict[str, str],
) -> AgentCheckpoint:
    """Upload the agent's own output files, its full result and (chained tools) the frame.
    Columnar row issues and change logs are stored as Parquet beside the result's JSON."""
    for out in result.outputs:
        if out.path is not None:
            out.size = storage.upload_file(out.path, _output_key(job, out.name), out.content_type)
    base = f"{job.key_prefix}work/{result.agent_id}"
    issues = result.row_level_issues
    columnar = isinstance(issues, RowIssues) and bool(issues.blocks)
    changes = result.changes
    columnar_changes = isinstance(changes, Changes) and bool(changes.blocks)
    payload: dict[str, Any] = {
        "result": result_to_dict(
            result,
            row_issue_cap=0 if columnar else None,
            change_cap=0 if columnar_changes else None,
        ),
        "column_aliases": aliases,
    }
    if isinstance(changes, Changes) and columnar_changes:
        _checkpoint_changes(storage, work_dir, base, result.agent_id, changes, payload)
    if isinstance(issues, RowIssues) and columnar:
        # Columnar findings stay columnar: one Parquet file per block beside the result.
        blocks = []
        for i, block in enumerate(issues.blocks):
            path = work_dir / f"{result.agent_id}.rows-{i}.parquet"
            block.hits.write_parquet(path)
            key = f"{base}.rows-{i}.parquet"
            storage.upload_file(path, key, "application/vnd.apache.parquet")
            path.unlink()
            blocks.append({**dataclasses.asdict(block), "hits": key})
        payload["result"]["row_level_issues"] = [jsonable(r) for r in issues.items]
        payload["row_issue_blocks"] = blocks
    result_path = work_dir / f"{result.agent_id}.result.json"
    result_path.write_text(json.dumps(payload))
    storage.upload_file(result_path, f"{base}.result.json", "application/json")
    result_path.unlink()
    frame_key = None
    if tool.chained and result.status == AgentStatus.SUCCESS and result.frame is not None:
        frame_path = work_dir / f"{result.agent_id}.parquet"
        frame.write_parquet(frame_path)
        frame_key = f"{base}.parquet"
        storage.upload_file(frame_path, frame_key, "application/vnd.apache.parquet")
        frame_path.unlink()
    return AgentCheckpoint(f"{base}.result.json", frame_key, dict(aliases))


def _checkpoint_changes(
    storage: Storage,
    work_dir: Path,
    base: str,
    agent_id: str,
    changes: Changes,
    payload: dict[str, Any],
) -> None:
    """A columnar change log stays columnar: one Parquet file per block beside the result (the
    raw values in their own types), the single changes in the JSON; ``change_blocks`` records
    where each block goes among them (``at``: how many single changes come before it)."""
    items: list[Any] = []
    blocks: list[dict[str, Any]] = []
    for part in changes.parts:
        if not isinstance(part, ChangeBlock):
            items.extend(part)
            continue
        path = work_dir / f"{agent_id}.changes-{len(blocks)}.parquet"
        try:
            part.frame.write_parquet(path)
        except Exception:  # a type Parquet cannot hold (Object): these changes go in the JSON
            path.unlink(missing_ok=True)
            items.extend(part)
            continue
        key = f"{base}.changes-{len(blocks)}.parquet"
        storage.upload_file(path, key, "application/vnd.apache.parquet")
        path.unlink()
        blocks.append(
            {
                "frame": key,
                "at": len(items),
                "kind": str(part.kind),
                "agent_id": part.agent_id,
                "column": part.column,
            }
        )
    payload["result"]["changes"] = [jsonable(c) for c in items]
    payload["change_blocks"] = blocks


def _restore_changes(
    storage: Storage, work_dir: Path, items: list[Change], metas: list[dict[str, Any]]
) -> Changes:
    import polars as pl

    parts: list[ChangeBlock | list[Change]] = []
    taken = 0
    for meta in metas:
        parts.append(items[taken : meta["at"]])
        taken = meta["at"]
        path = work_dir / Path(meta["frame"]).name
        storage.download_file(meta["frame"], path)
        frame = pl.read_parquet(path)
        path.unlink()
        parts.append(
            ChangeBlock(frame, ChangeKind(meta["kind"]), meta["agent_id"], meta.get("column"))
        )
    parts.append(items[taken:])
    return Changes(parts)


def load_checkpoint(
    storage: Storage, result_key: str, frame_key: str | None, work_dir: Path
) -> tuple[AgentResult, Path | None, dict[str, str]]:
    """Read back what ``_checkpoint`` stored (used by the worker's ``resume_state``)."""
    local = work_dir / Path(result_key).name
    storage.download_file(result_key, local)
    payload = json.loads(local.read_text())
    frame_path = None
    if frame_key:
        frame_path = work_dir / Path(frame_key).name
        storage.download_file(frame_key, frame_path)
    result = result_from_dict(payload["result"])
    if payload.get("row_issue_blocks"):
        import polars as pl

        blocks = []
        for meta in payload["row_issue_blocks"]:
            path = work_dir / Path(meta["hits"]).name
            storage.download_file(meta["hits"], path)
            blocks.append(RowIssueBlock(**{**meta, "hits": pl.read_parquet(path)}))
            path.unlink()
        result.row_level_issues = RowIssues(blocks, result.row_level_issues)
    if payload.get("change_blocks"):
        result.changes = _restore_changes(
            storage, work_dir, list(result.changes), payload["change_blocks"]
        )
    return result, frame_path, payload.get("column_aliases", {})


def _data_output(
    tool: ToolSpec, results: list[AgentResult], frame: Any, work_dir: Path
) -> OutputFile | None:
    """The chained tool's final data (``<data_output>.csv``, Parquet when large) when an agent
    changed data and none wrote the data itself (no ``data`` output: no writeback agent)."""
    if tool.data_output is None or frame is None:
        return None
    if any(o.kind == "data" for r in results for o in r.outputs):
        return None
    changed = any(r.status == AgentStatus.SUCCESS and r.changes for r in results)
    if not changed:
        return None
    from transformers.io.writers import data_output_format, write_table

    fmt = data_output_format(frame)
    work_dir.mkdir(parents=True, exist_ok=True)
    path = work_dir / f"{tool.data_output}.{fmt}"
    write_table(frame, path, fmt)
    content_type = "text/csv" if fmt == "csv" else "application/vnd.apache.parquet"
    return OutputFile(path.name, path, "data", content_type)


def _output_key(job: PipelineJob, name: str) -> str:
    return f"{job.key_prefix}outputs/{name}"


def _upload(job: PipelineJob, storage: Storage, f: OutputFile) -> dict[str, Any]:
    assert f.path is not None
    key = _output_key(job, f.name)
    size = storage.upload_file(f.path, key, f.content_type)
    return {"name": f.name, "kind": f.kind, "key": key, "size": size}


def _upload_all(
    job: PipelineJob, storage: Storage, files: list[OutputFile]
) -> list[dict[str, Any]]:
    """The report's files uploaded concurrently (each a few S3 round trips of waiting), in
    their order; a failed upload raises like a sequential one."""
    if len(files) <= 1:
        return [_upload(job, storage, f) for f in files]
    import contextvars
    from concurrent.futures import ThreadPoolExecutor

    def one(f: OutputFile) -> dict[str, Any]:
        return _upload(job, storage, f)

    # Each upload runs in a copy of this context: its S3 spans stay in the task's trace.
    with ThreadPoolExecutor(max_workers=min(4, len(files))) as pool:
        futures = [pool.submit(contextvars.copy_context().run, one, f) for f in files]
        return [f.result() for f in futures]


def _ms(t0: float) -> int:
    return int((time.perf_counter() - t0) * 1000)
