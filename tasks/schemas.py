"""Request and response shapes of the public task API (documented in OpenAPI)."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from core.inputs import BoundedStr, IdStr, RequestModel, text
from transformers.registry import DEFAULT_REPORT_FORMATS, REPORT_FORMATS

__all__ = ["BoundedStr", "IdStr", "RequestModel", "text"]


class TaskCreate(RequestModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "tool_id": "profile-my-data",
                    "agents": ["unified-profiler", "score-risk"],
                    "parameters": {"unified-profiler": {"top_n_values": 5}},
                }
            ]
        },
    )

    tool_id: text(64) = Field(  # type: ignore[valid-type]
        description="profile-my-data, clean-my-data or master-my-data."
    )
    agents: list[IdStr] | None = Field(  # type: ignore[valid-type]
        None,
        max_length=50,
        description="Agents to run (default: all of the tool's agents, in its order). Unknown "
        "agents are 422 UNKNOWN_AGENT, duplicates 422 INVALID_PARAMETERS.",
    )
    parameters: dict[str, Any] | None = Field(
        None,
        description="Per-agent parameter overrides: {agent_id: {name: value}}, validated "
        "against each agent's schema (GET /v1/tools/{tool_id}); a bad value is 422 "
        "INVALID_PARAMETERS with details.path like parameters.<agent>.<field>.",
    )
    filenames: dict[text(64), text(255)] | None = Field(  # type: ignore[valid-type]
        None,
        max_length=20,
        description="Optional file name per role, used for the presigned upload keys "
        "(sanitised: no directories, no control characters).",
    )
    on_bad_lines: Literal["error", "skip"] = Field(
        "error", description="'skip' drops structurally bad lines and lists them in the outputs."
    )
    sheet: text(255) | None = Field(  # type: ignore[valid-type]
        None, description="XLSX sheet to read (default: the first)."
    )
    report_formats: list[text(16)] | None = Field(  # type: ignore[valid-type]
        None,
        max_length=10,
        description="The report's renderings to build: any of "
        + ", ".join(REPORT_FORMATS)
        + " (default: "
        + ", ".join(DEFAULT_REPORT_FORMATS)
        + "). report.json is always built (it is GET /v1/tasks/{id}/report); without html the "
        "task has no report.html (GET .../report.html is 409 REPORT_NOT_READY), without xlsx "
        "no report.xlsx, which saves the workbook's build time. Row-level outputs are written "
        "either way. An unknown format is 422 UNKNOWN_REPORT_FORMAT.",
        json_schema_extra={"items": {"type": "string", "enum": list(REPORT_FORMATS)}},
    )
    callback_url: text(2000) | None = Field(  # type: ignore[valid-type]
        None,
        description="POSTed a signed JSON notification when the task ends (https; no "
        "credentials; every address the host resolves to must be globally routable, checked "
        "again at send time; see docs/api.md, Callbacks).",
    )


class PresignedPost(BaseModel):
    url: str = Field(description="POST multipart/form-data here: every field, then `file`.")
    fields: dict[str, str] = Field(description="Form fields to send before the file.")
    max_bytes: int = Field(
        description="S3 itself refuses a larger file (400 EntityTooLarge): the plan's limit."
    )


class UploadSlot(BaseModel):
    url: str = Field(
        description="Presigned S3 URL; PUT the file's bytes to it. S3 cannot cap a PUT's size: "
        "a file over the plan's limit is refused (and deleted) at process. Prefer `post`."
    )
    post: PresignedPost | None = Field(
        None,
        description="A presigned POST that S3 caps at the plan's file size (recommended).",
    )
    method: Literal["PUT"] = "PUT"
    headers: dict[str, str] = Field(default_factory=dict, description="Headers to send along.")
    expires_at: dt.datetime


class TaskCreated(BaseModel):
    task_id: str
    status: str = Field(description="CREATED, or QUEUED after a one-shot call with process=true.")
    tool_id: str
    agents: list[str] = Field(description="The agents that will run, in run order.")
    uploads: dict[str, UploadSlot] = Field(description="A presigned PUT per file role.")
    credits_held: int | None = Field(
        None, description="Credits held (one-shot calls with process=true only)."
    )


class FileUploaded(BaseModel):
    role: str
    filename: str = Field(description="The sanitised name the file is stored under.")
    size: int
    sha256: str
    format: str = Field(description="Detected from the content: csv, tsv, xlsx, json, ...")


class ProcessAccepted(BaseModel):
    task_id: str
    status: str
    credits_held: int


class AgentRunOut(BaseModel):
    agent_id: str
    status: str = Field(description="pending, running, success, failed, skipped or cancelled.")
    duration_ms: int | None
    credits: int = Field(description="Credits charged for this agent (only when it succeeded).")
    error: dict[str, str | None] | None = None


class TaskError(BaseModel):
    code: str
    message: str | None


class TaskFileOut(BaseModel):
    role: str
    filename: str
    size: int | None
    format: str | None
    sha256: str | None


class TaskOut(BaseModel):
    task_id: str
    tool_id: str
    status: str = Field(
        description="CREATED, QUEUED, PROCESSING, COMPLETED, COMPLETED_WITH_ERRORS, FAILED, "
        "CANCELLED or EXPIRED."
    )
    progress: int = Field(description="0-100.")
    current_agent: str | None
    agents: list[AgentRunOut]
    attempt: int
    credits_held: int
    credits_charged: int
    rows_processed: int | None
    files: list[TaskFileOut]
    error: TaskError | None
    created_at: dt.datetime
    queued_at: dt.datetime | None
    started_at: dt.datetime | None
    finished_at: dt.datetime | None


class TaskPage(BaseModel):
    items: list[TaskOut]
    next_cursor: str | None = Field(description="Pass as ?cursor= for the next page.")


class OutputOut(BaseModel):
    name: str
    kind: str
    size: int | None
    url: str = Field(description="Presigned GET URL for this one object; expires at expires_at.")
    expires_at: dt.datetime


class CallbackSecretOut(BaseModel):
    secret: str = Field(description="HMAC-SHA256 key of your callback signatures.")
    signature_header: str = "X-Agensium-Signature"
    scheme: str = Field(
        "t=<unix seconds>,v1=hex(HMAC_SHA256(secret, '<t>.' + raw body))",
        description="How the signature header is built.",
    )


class CallbackSecretRotated(BaseModel):
    secret: str = Field(description="The new secret; it signs every callback from now on.")
    previous_valid_until: dt.datetime | None = Field(
        description="Until then callbacks also carry a signature with the previous secret."
    )
