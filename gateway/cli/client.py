"""A small API client for the command line: create, upload, process, watch, summarise."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

FINAL = {"COMPLETED", "COMPLETED_WITH_ERRORS", "FAILED", "CANCELLED", "EXPIRED"}


class ApiError(RuntimeError):
    def __init__(self, response: httpx.Response) -> None:
        try:
            err = response.json()["error"]
            msg = f"{response.status_code} {err['code']}: {err['message']}"
        except (ValueError, KeyError, TypeError):
            msg = f"{response.status_code}: {response.text[:300]}"
        super().__init__(msg)
        self.status_code = response.status_code


@dataclass
class Client:
    base_url: str
    api_key: str
    timeout: float = 60

    def __post_init__(self) -> None:
        self.http = httpx.Client(
            base_url=self.base_url,
            headers={"Authorization": f"Bearer {self.api_key}"},
            timeout=self.timeout,
        )

    def call(self, method: str, path: str, **kw: Any) -> Any:
        r = self.http.request(method, path, **kw)
        if r.status_code >= 400:
            raise ApiError(r)
        if r.status_code == 204 or not r.content:
            return None
        return r.json()

    def create(
        self, tool_id: str, agents: list[str] | None, parameters: dict[str, Any] | None
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"tool_id": tool_id}
        if agents:
            body["agents"] = agents
        if parameters:
            body["parameters"] = parameters
        result: dict[str, Any] = self.call("POST", "/v1/tasks", json=body)
        return result

    def upload(self, task_id: str, role: str, path: Path) -> dict[str, Any]:
        with path.open("rb") as fh:
            result: dict[str, Any] = self.call(
                "PUT",
                f"/v1/tasks/{task_id}/files/{role}",
                params={"filename": path.name},
                content=fh,
            )
        return result


def watch(client: Client, task_id: str, console: Console, timeout: float = 3600) -> dict[str, Any]:
    """Poll the task with a live progress bar until it ends."""
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        TextColumn("{task.fields[agent]}"),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    ) as bar:
        job = bar.add_task("QUEUED", total=100, agent="")
        deadline = time.monotonic() + timeout
        while True:
            task: dict[str, Any] = client.call("GET", f"/v1/tasks/{task_id}")
            bar.update(
                job,
                completed=task["progress"],
                description=task["status"],
                agent=task.get("current_agent") or "",
            )
            if task["status"] in FINAL or time.monotonic() > deadline:
                return task
            time.sleep(0.5)


def print_summary(client: Client, task: dict[str, Any], console: Console) -> None:
    console.print(
        f"\n[bold]Task {task['task_id']}[/bold]  {task['tool_id']}"
        f"  status [bold]{task['status']}[/bold]"
    )
    if task.get("error"):
        console.print(f"[red]{task['error']['code']}: {task['error']['message']}[/red]")
    table = Table("agent", "status", "ms", "credits")
    for a in task["agents"]:
        table.add_row(a["agent_id"], a["status"], str(a["duration_ms"] or ""), str(a["credits"]))
    console.print(table)
    console.print(f"credits charged: {task['credits_charged']}")
    if task["status"] in ("COMPLETED", "COMPLETED_WITH_ERRORS"):
        report = client.call("GET", f"/v1/tasks/{task['task_id']}/report")
        print_column_profile(report, console)
        summary = Table("finding", "value", "status", title="Executive summary")
        for item in (report.get("executive_summary") or {}).get("items", []):
            summary.add_row(str(item.get("title")), str(item.get("value")), str(item.get("status")))
        console.print(summary)
        nxt = report.get("recommended_next_tool")
        if nxt:
            console.print(
                f"recommended next tool: [bold]{nxt.get('tool_id')}[/bold] — {nxt.get('reason')}"
            )
        outputs = client.call("GET", f"/v1/tasks/{task['task_id']}/outputs")
        # Links as plain lines, never cut by a table column: they are meant to be copied.
        console.print(f"\n[bold]Outputs[/bold] (presigned links, valid until {_expiry(outputs)})")
        for o in outputs:
            console.print(f"{o['name']}  {o['kind']}  {o['size'] or ''} bytes", highlight=False)
            console.print(f"  {o['url']}", soft_wrap=True, highlight=False, markup=False)


def _num(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.2f}"
    return "" if value is None else str(value)


def print_column_profile(report: dict[str, Any], console: Console) -> None:
    """The unified profiler's per-column numbers, when the report has them."""
    profiler = next(
        (a for a in report.get("agents", []) if a.get("agent_id") == "unified-profiler"), None
    )
    columns = ((profiler or {}).get("data") or {}).get("columns") or {}
    if not columns:
        return
    table = Table(title="Profile")
    for header in ("column", "type", "missing %", "distinct", "min", "mean", "max"):
        table.add_column(header, overflow="fold")  # fold long values, never cut them
    for name, col in columns.items():
        table.add_row(
            name,
            str(col.get("inferred_type", "")),
            _num(col.get("missing_pct")),
            _num(col.get("distinct_count")),
            _num(col.get("min")),
            _num(col.get("mean")),
            _num(col.get("max")),
        )
    console.print(table)


def download_outputs(client: Client, task_id: str, dest: Path) -> list[Path]:
    """Save every output file of a task under ``dest`` (links expire; files stay)."""
    dest.mkdir(parents=True, exist_ok=True)
    saved = []
    for o in client.call("GET", f"/v1/tasks/{task_id}/outputs"):
        path = dest / Path(o["name"]).name
        with httpx.stream("GET", o["url"], timeout=120) as r:
            r.raise_for_status()
            with path.open("wb") as fh:
                for chunk in r.iter_bytes():
                    fh.write(chunk)
        saved.append(path)
    return saved


def _expiry(outputs: list[dict[str, Any]]) -> str:
    return str(outputs[0]["expires_at"]) if outputs else "-"
