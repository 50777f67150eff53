"""``agensium``: the local stack, the demo, an API client and operator commands."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from billing.cli import app as billing_app
from gateway.cli.client import ApiError, Client, download_outputs, print_summary, watch
from gateway.cli.infra import app as infra_app

app = typer.Typer(no_args_is_help=True, add_completion=False, help=__doc__)
stack_app = typer.Typer(no_args_is_help=True, help="The embedded local stack.")
tasks_app = typer.Typer(no_args_is_help=True, help="Your tasks (needs AGENSIUM_API_KEY).")
tenants_app = typer.Typer(no_args_is_help=True, help="Operator commands on the database.")
db_app = typer.Typer(no_args_is_help=True, help="Database migrations.")
app.add_typer(stack_app, name="stack")
app.add_typer(tasks_app, name="tasks")
app.add_typer(tenants_app, name="tenants")
app.add_typer(db_app, name="db")
app.add_typer(billing_app, name="billing")
app.add_typer(infra_app, name="infra")
console = Console()

ApiUrl = Annotated[str, typer.Option(envvar="AGENSIUM_API_URL", help="Gateway base URL.")]
ApiKey = Annotated[str, typer.Option(envvar="AGENSIUM_API_KEY", help="Your API key.")]


def _stack_config(
    gateway_port: int,
    redis_port: int,
    s3_port: int,
    flower: bool,
    embedded_redis: bool,
    var: Path | None = None,
):  # type: ignore[no-untyped-def]
    from gateway.cli.stack import StackConfig

    config = StackConfig(
        gateway_port=gateway_port,
        redis_port=redis_port,
        s3_port=s3_port,
        flower=flower,
        embedded_redis=embedded_redis,
    )
    if var is not None:
        config.var = var
    return config


@stack_app.command("up")
def stack_up(
    gateway_port: Annotated[int, typer.Option(envvar="GATEWAY_PORT")] = 8000,
    redis_port: Annotated[int, typer.Option(envvar="LOCAL_REDIS_PORT")] = 6379,
    s3_port: Annotated[int, typer.Option(envvar="LOCAL_S3_PORT")] = 8333,
    flower: Annotated[bool, typer.Option(help="Also start Flower on :5555.")] = False,
    embedded_redis: Annotated[
        bool, typer.Option(help="Start our own Redis even if one runs.")
    ] = False,
    var: Annotated[
        Path | None,
        typer.Option(envvar="AGENSIUM_STACK_VAR", help="State and logs (default: var/)."),
    ] = None,
) -> None:
    """Start Redis and S3 if needed, migrate, start the gateway and a worker pool per tool
    queue, and keep them running until Ctrl-C (or SIGTERM): a service that exits is restarted
    with backoff (logged in var/logs/stack.log); a stop signal at any moment, start-up
    included, stops every service started."""
    from core.services import PortTaken
    from gateway.cli.stack import LocalStack, install_stop_signals, serve

    install_stop_signals()  # first of all: a signal during start-up must stop what started
    console.print("[bold]Starting the local stack[/bold]")
    stack = LocalStack(
        _stack_config(gateway_port, redis_port, s3_port, flower, embedded_redis, var)
    )

    def ready(started: LocalStack) -> None:
        console.print(f"\n[green]Ready.[/green] Operator key (ADMIN_API_KEY): {started.admin_key}")
        console.print("Logs: var/logs/. Press Ctrl-C to stop.")

    try:
        serve(stack, ready)
    except PortTaken as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None
    console.print("Stopped.")


@app.command()
def demo(
    gateway_port: Annotated[int, typer.Option(envvar="GATEWAY_PORT")] = 8000,
    keep: Annotated[bool, typer.Option(help="Leave the stack running afterwards.")] = False,
    tool: Annotated[str, typer.Option(help="Tool to demonstrate.")] = "profile-my-data",
) -> None:
    """Start the embedded stack, create a demo tenant, and run a real analysis of the bundled
    sample through the real queue, worker and S3; print the result and where the outputs are."""
    import httpx

    from core.services import PortTaken
    from gateway.cli.stack import LocalStack, StackConfig

    console.print(
        "[bold]Starting the embedded stack[/bold]"
        " (SQLite, Redis, S3, gateway, a worker pool per tool)"
    )
    stack = LocalStack(StackConfig(gateway_port=gateway_port))
    try:
        stack.start()
    except PortTaken as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None
    try:
        admin = httpx.Client(
            base_url=stack.gateway_url,
            headers={"Authorization": f"Bearer {stack.admin_key}"},
            timeout=60,
        )
        tenant = admin.post("/v1/admin/tenants", json={"name": "Demo tenant", "plan": "pro"}).json()
        key = admin.post(
            f"/v1/admin/tenants/{tenant['tenant_id']}/api-keys", json={"name": "demo"}
        ).json()
        admin.post(
            f"/v1/admin/tenants/{tenant['tenant_id']}/grants",
            json={"credits": 1000, "reason": "demo credits"},
        ).raise_for_status()
        console.print(
            f"\nDemo tenant {tenant['tenant_id']} with 1000 credits; API key {key['api_key']}"
        )
        sample = Path(__file__).resolve().parents[2] / "core" / "samples" / "customers.csv"
        client = Client(stack.gateway_url, key["api_key"])
        task_id = _run(client, sample, tool, None, None)
        if task_id:
            # The links die with the stack; the files stay.
            saved = download_outputs(client, task_id, stack.config.var / "demo" / task_id)
            console.print("\n[bold]Outputs saved[/bold] (they outlive the stack):")
            for path in saved:
                console.print(f"  {path}")
        if keep:
            console.print(f"\nStack left running at {stack.gateway_url}. Ctrl-C to stop.")
            try:
                while True:
                    time.sleep(1)
            except KeyboardInterrupt:
                pass
        if not task_id:
            raise typer.Exit(1)
    finally:
        stack.stop()


def _run(
    client: Client, path: Path, tool: str, baseline: Path | None, agents: list[str] | None
) -> str | None:
    """Create, upload, process and watch one task; its id when it completed, else None."""
    console.print(f"\nAnalysing [bold]{path.name}[/bold] with [bold]{tool}[/bold]")
    try:
        created = client.create(tool, agents, None)
        task_id = created["task_id"]
        up = client.upload(task_id, "primary", path)
        console.print(
            f"uploaded {up['filename']} ({up['size']} bytes, {up['format']},"
            f" sha256 {up['sha256'][:12]}…)"
        )
        if baseline:
            client.upload(task_id, "baseline", baseline)
        accepted = client.call("POST", f"/v1/tasks/{task_id}/process")
        console.print(f"queued on '{tool}'; {accepted['credits_held']} credits held")
        task = watch(client, task_id, console)
        print_summary(client, task, console)
        return task_id if task["status"] in ("COMPLETED", "COMPLETED_WITH_ERRORS") else None
    except ApiError as exc:
        console.print(f"[red]{exc}[/red]")
        return None


@app.command()
def run(
    path: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="The data file.")],
    tool: Annotated[str, typer.Option("--tool", "-t")] = "profile-my-data",
    baseline: Annotated[Path | None, typer.Option(exists=True, dir_okay=False)] = None,
    agents: Annotated[str | None, typer.Option(help="Comma-separated agent ids.")] = None,
    api_url: ApiUrl = "http://127.0.0.1:8000",
    api_key: ApiKey = "",
) -> None:
    """Create a task, upload, process, show a live progress bar, print the summary and links."""
    if not api_key:
        console.print("[red]Set AGENSIUM_API_KEY or pass --api-key[/red]")
        raise typer.Exit(2)
    task_id = _run(
        Client(api_url, api_key), path, tool, baseline, agents.split(",") if agents else None
    )
    raise typer.Exit(0 if task_id else 1)


@tasks_app.command("list")
def tasks_list(
    api_url: ApiUrl = "http://127.0.0.1:8000", api_key: ApiKey = "", status: str | None = None
) -> None:
    """Your most recent tasks."""
    params = {"status": status} if status else {}
    page = Client(api_url, api_key).call("GET", "/v1/tasks", params=params)
    for t in page["items"]:
        console.print(
            f"{t['task_id']}  {t['tool_id']:<16} {t['status']:<22}"
            f" {t['progress']:>3}%  {t['created_at']}"
        )


@tasks_app.command("show")
def tasks_show(
    task_id: str, api_url: ApiUrl = "http://127.0.0.1:8000", api_key: ApiKey = ""
) -> None:
    """One task's status, agents and outputs."""
    client = Client(api_url, api_key)
    print_summary(client, client.call("GET", f"/v1/tasks/{task_id}"), console)


@tasks_app.command("cancel")
def tasks_cancel(
    task_id: str, api_url: ApiUrl = "http://127.0.0.1:8000", api_key: ApiKey = ""
) -> None:
    """Cancel a task (a running one stops after its current agent)."""
    task = Client(api_url, api_key).call("POST", f"/v1/tasks/{task_id}/cancel")
    console.print(
        f"{task_id}: {task['status']}"
        + (" (stopping after the current agent)" if task["status"] == "PROCESSING" else "")
    )


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply migrations and seed plans and prices (DATABASE_URL)."""
    from migrations.apply import upgrade

    upgrade()
    console.print("database is up to date")


@tenants_app.command("create")
def tenants_create(
    name: str,
    plan: Annotated[str, typer.Option()] = "free",
    credits: Annotated[int, typer.Option(help="Credits to grant.")] = 0,
) -> None:
    """Create a tenant with an API key directly in the database (prints the key once)."""
    from billing import service as billing
    from core.db import new_id, session_scope
    from tenants import service as tenants

    with session_scope() as session:
        tenant = tenants.create_tenant(session, name, plan)
        key, secret = tenants.issue_key(session, tenant.id)
        if credits:
            billing.grant(
                session, tenant.id, credits, "created from the CLI", f"grant:{tenant.id}:{new_id()}"
            )
        out = {
            "tenant_id": tenant.id,
            "plan": plan,
            "api_key": secret,
            "key_id": key.id,
            "credits": credits,
        }
    console.print_json(json.dumps(out))


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)
    except ApiError as exc:  # an API refusal is a message and exit 1, not a traceback
        console.print(f"[red]{exc}[/red]")
        sys.exit(1)
