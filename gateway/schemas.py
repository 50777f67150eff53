"""Request and response shapes of the public task API (documented in OpenAPI)."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class TaskCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    tool_id: str = Field(description="profile-my-data, clean-my-data or master-my-data.")
    agents: list[str] | None = Field(
        None, description="Agents to run (default: all of the tool's agents, in its order)."
    )
    parameters: dict[str, Any] | None = Field(
        None, description="Per-agent parameter overrides: {agent_id: {name: value}}."
    )
    filenames: dict[str, str] | None = Field(
        None, description="Optional file name per role, used for the presigned upload keys."
    )
    on_bad_lines: Literal["error", "skip"] = Field(
        "error", description="'skip' drops structurally bad lines and lists them in the outputs."
    )
    sheet: str | None = Field(None, description="XLSX sheet to read (default: the first).")
    callback_url: str | None = Field(
        None, description="POSTed a signed JSON notification when the task ends."
    )


class UploadSlot(BaseModel):
    url: str
    method: Literal["PUT"] = "PUT"
    headers: dict[str, str] = {}
    expires_at: dt.datetime


class TaskCreated(BaseModel):
    task_id: str
    status: str
    tool_id: str
    agents: list[str]
    uploads: dict[str, UploadSlot]


class FileUploaded(BaseModel):
    role: str
    filename: str
    size: int
    sha256: str
    format: str


class ProcessAccepted(BaseModel):
    task_id: str
    status: str
    credits_held: int


class AgentRunOut(BaseModel):
    agent_id: str
    status: str
    duration_ms: int | None
    credits: int
    error: dict[str, str | None] | None = None


class TaskError(BaseModel):
    code: str
    message: str | None


class TaskOut(BaseModel):
    task_id: str
    tool_id: str
    status: str
    progress: int
    current_agent: str | None
    agents: list[AgentRunOut]
    attempt: int
    credits_held: int
    credits_charged: int
    rows_processed: int | None
    files: list[dict[str, Any]]
    error: TaskError | None
    created_at: dt.datetime
    queued_at: dt.datetime | None
    started_at: dt.datetime | None
    finished_at: dt.datetime | None


class TaskPage(BaseModel):
    items: list[TaskOut]
    next_cursor: str | None


class OutputOut(BaseModel):
    name: str
    kind: str
    size: int | None
    url: str
    expires_at: dt.datetime
