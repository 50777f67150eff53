"""``agensium infra``: deployment files generated from the tool registry.

The tool registry (``transformers.registry.TOOLS``) is the single source of truth for which
queues exist. Everything that must exist once per tool queue is rendered from it here:

- ``infra/k8s/base/workers.generated.yaml``: per tool, a worker Deployment and a KEDA
  ``ScaledObject`` on the Redis list length of the tool's queue;
- the per-tool worker services inside ``infra/compose.yaml`` (between the generated markers);
- ``infra/prometheus/prometheus.yml``: scrape jobs for the gateway and every worker service;
- ``infra/grafana/dashboards/agensium.json``: the operations dashboard (metric names come from
  ``core.metrics``, where the metrics are defined: ``METRICS`` below).

So registering a tool adds its queue (``workers.config`` reads the registry), its pool and its
scaler. ``agensium infra render --check`` fails when the committed files differ from what the
registry renders (CI runs the same comparison in ``tests/infra``).

Importable without the data stack (no polars/pyarrow): it reads the declarative registry only.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml
from rich.console import Console

from core.settings import ROOT, Settings
from workers.commands import worker_argv

app = typer.Typer(no_args_is_help=True, help="Deployment manifests rendered from the registry.")
console = Console()

K8S_WORKERS = Path("infra/k8s/base/workers.generated.yaml")
COMPOSE = Path("infra/compose.yaml")
DASHBOARD = Path("infra/grafana/dashboards/agensium.json")
PROMETHEUS = Path("infra/prometheus/prometheus.yml")

COMPOSE_BEGIN = "  # >>> BEGIN GENERATED: per-tool workers (agensium infra render; do not edit)"
COMPOSE_END = "# <<< END GENERATED"

#: The container image of the workers (kustomize ``images:`` rewrites name and tag).
WORKER_IMAGE = "agensium-worker"
NAMESPACE_LABEL = "agensium"
CONFIGMAP = "agensium-config"
SECRET = "agensium-secrets"
REDIS_AUTH = "agensium-redis"

#: Metric names the dashboard queries, as exposed (defined in core/metrics.py; the queue depth
#: is read at scrape time by gateway/metrics.py). Labels: tool, agent, status, queue, route.
METRICS: dict[str, str] = {
    "queue_depth": "agensium_queue_depth",
    "tasks": "agensium_tasks_total",
    "task_duration": "agensium_task_duration_seconds",
    "agent_duration": "agensium_agent_duration_seconds",
    "credits_captured": "agensium_credits_captured_total",
    "http_requests": "agensium_http_requests_total",
}
#: Where a worker's main process serves its pool's metrics (core.metrics, multiprocess mode).
WORKER_METRICS_PORT = 9808
WORKER_METRICS_ENV: tuple[tuple[str, str], ...] = (
    ("AGENSIUM_WORKER_METRICS_PORT", str(WORKER_METRICS_PORT)),
    ("PROMETHEUS_MULTIPROC_DIR", "/tmp/prometheus"),
)

#: Settings whose values are secrets: always injected from the Secret, never from config.
SECRET_ENV: tuple[tuple[str, bool], ...] = (
    ("DATABASE_URL", False),
    ("REDIS_URL", False),
    ("S3_ACCESS_KEY_ID", False),
    ("S3_SECRET_ACCESS_KEY", False),
    ("ADMIN_API_KEY", False),
    ("API_KEY_PEPPER", False),
    ("STRIPE_API_KEY", True),
    ("STRIPE_WEBHOOK_SECRET", True),
)


def _default(field: str) -> int:
    value = Settings.model_fields[field].default
    assert isinstance(value, int)
    return value


#: The hard task time limit the manifests are rendered for (``CELERY_TASK_TIME_LIMIT``).
TASK_TIME_LIMIT = _default("celery_task_time_limit")
TASK_SOFT_TIME_LIMIT = _default("celery_task_soft_time_limit")
VISIBILITY_TIMEOUT = _default("celery_visibility_timeout")
#: Kubernetes waits this long after SIGTERM before SIGKILL: above the hard limit, so the warm
#: shutdown always sees the running task end (or be ended by its own time limit) first.
TERMINATION_GRACE_SECONDS = TASK_TIME_LIMIT + 60


#: Memory of a worker pod beyond its task processes: Celery's main process, imports, buffers.
POOL_OVERHEAD_MB = 512


@dataclass(frozen=True)
class PoolSpec:
    """How one tool's worker pool is sized and scaled (a default unless listed in POOLS)."""

    min_replicas: int = 1
    max_replicas: int = 10
    #: Waiting messages per replica that KEDA aims for (one replica runs ``concurrency`` tasks).
    list_length: int = 2
    #: Messages waiting above which a pool scaled to zero is woken up.
    activation_list_length: int = 0
    concurrency: int = 2
    cpu_request: str = "500m"
    #: ``WORKER_MEMORY_LIMIT_MB`` of each task process: inputs that do not fit are analysed
    #: out of core. The pod's memory is derived from it (``memory_request_mb``).
    task_memory_mb: int = _default("worker_memory_limit_mb")
    cooldown_seconds: int = 300

    @property
    def memory_request_mb(self) -> int:
        """Every task process at its budget, plus the pool's main process and the runtime."""
        return self.concurrency * self.task_memory_mb + POOL_OVERHEAD_MB

    @property
    def memory_limit_mb(self) -> int:
        """A quarter above the request: room for one task's allocator slack, not for a second
        table in memory (a task over its budget is a defect to fix, not to absorb)."""
        return self.memory_request_mb * 5 // 4

    @property
    def max_memory_per_child_kib(self) -> int:
        """Celery replaces a pool process that ends a task above this resident size."""
        return self.task_memory_mb * 1024 * 5 // 4


POOLS: dict[str, PoolSpec] = {
    "profile-my-data": PoolSpec(min_replicas=1, max_replicas=10),
    "clean-my-data": PoolSpec(min_replicas=1, max_replicas=8),
    # Entity resolution is memory-heavy: fewer, larger pods, scaled to zero when idle.
    "master-my-data": PoolSpec(
        min_replicas=0,
        max_replicas=4,
        list_length=1,
        concurrency=1,
        cpu_request="1",
        task_memory_mb=3072,
    ),
}


def pool_for(tool_id: str) -> PoolSpec:
    return POOLS.get(tool_id, PoolSpec())


def k8s_name(value: str) -> str:
    """A DNS-1123 label from a tool id or queue name."""
    name = re.sub(r"[^a-z0-9-]+", "-", value.lower()).strip("-")
    return name[:63].rstrip("-")


def worker_command(queue: str, concurrency: int, *, beat: bool = False) -> list[str]:
    """The worker's argv: one queue, warm shutdown on SIGTERM, bounded soft shutdown.

    On SIGTERM Celery stops consuming and waits for running tasks (each ends within the hard
    time limit). ``worker_soft_shutdown_timeout`` (Celery >= 5.5, passed as command-line
    configuration) makes a cold shutdown (SIGQUIT) wait that long too before it cancels and
    requeues the tasks (acks_late), instead of abandoning them at once.
    """
    return worker_argv(
        [queue],
        node=queue,
        concurrency=concurrency,
        beat_schedule="/tmp/celerybeat-schedule" if beat else None,
        soft_shutdown_timeout=TASK_TIME_LIMIT,
    )


def _labels(tool_id: str, queue: str) -> dict[str, str]:
    return {
        "app.kubernetes.io/name": NAMESPACE_LABEL,
        "app.kubernetes.io/component": "worker",
        "agensium.io/tool": k8s_name(tool_id),
        "agensium.io/queue": k8s_name(queue),
    }


def _secret_env() -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for name, optional in SECRET_ENV:
        ref: dict[str, Any] = {"name": SECRET, "key": name}
        if optional:
            ref["optional"] = True
        out.append({"name": name, "valueFrom": {"secretKeyRef": ref}})
    return out


def worker_deployment(tool_id: str, queue: str) -> dict[str, Any]:
    pool = pool_for(tool_id)
    name = f"agensium-worker-{k8s_name(tool_id)}"
    labels = _labels(tool_id, queue)
    selector = {k: labels[k] for k in ("app.kubernetes.io/name", "agensium.io/tool")}
    env = [
        {"name": "CELERY_WORKER_CONCURRENCY", "value": str(pool.concurrency)},
        {"name": "WORKER_MEMORY_LIMIT_MB", "value": str(pool.task_memory_mb)},
        {
            "name": "CELERY_WORKER_MAX_MEMORY_PER_CHILD",
            "value": str(pool.max_memory_per_child_kib),
        },
        {"name": "CELERY_TASK_TIME_LIMIT", "value": str(TASK_TIME_LIMIT)},
        {"name": "CELERY_TASK_SOFT_TIME_LIMIT", "value": str(TASK_SOFT_TIME_LIMIT)},
        {"name": "CELERY_VISIBILITY_TIMEOUT", "value": str(VISIBILITY_TIMEOUT)},
        {"name": "OTEL_SERVICE_NAME", "value": f"agensium-worker-{k8s_name(tool_id)}"},
        *({"name": k, "value": v} for k, v in WORKER_METRICS_ENV),
        *_secret_env(),
    ]
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "labels": labels},
        "spec": {
            # KEDA owns the replica count; this is only the first rollout's size.
            "replicas": max(pool.min_replicas, 1),
            "selector": {"matchLabels": selector},
            "strategy": {
                "type": "RollingUpdate",
                "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0},
            },
            "template": {
                "metadata": {
                    "labels": labels,
                    "annotations": {
                        "prometheus.io/scrape": "true",
                        "prometheus.io/port": str(WORKER_METRICS_PORT),
                        "prometheus.io/path": "/metrics",
                    },
                },
                "spec": {
                    "serviceAccountName": "agensium",
                    "terminationGracePeriodSeconds": TERMINATION_GRACE_SECONDS,
                    "securityContext": {
                        "runAsNonRoot": True,
                        "runAsUser": 10001,
                        "runAsGroup": 10001,
                        "fsGroup": 10001,
                        "seccompProfile": {"type": "RuntimeDefault"},
                    },
                    "containers": [
                        {
                            "name": "worker",
                            "image": WORKER_IMAGE,
                            "command": worker_command(queue, pool.concurrency),
                            "ports": [{"name": "metrics", "containerPort": WORKER_METRICS_PORT}],
                            "envFrom": [{"configMapRef": {"name": CONFIGMAP}}],
                            "env": env,
                            "resources": {
                                "requests": {
                                    "cpu": pool.cpu_request,
                                    "memory": f"{pool.memory_request_mb}Mi",
                                },
                                "limits": {"memory": f"{pool.memory_limit_mb}Mi"},
                            },
                            "securityContext": {
                                "allowPrivilegeEscalation": False,
                                "readOnlyRootFilesystem": True,
                                "capabilities": {"drop": ["ALL"]},
                            },
                            "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],
                        }
                    ],
                    "volumes": [{"name": "tmp", "emptyDir": {"sizeLimit": "20Gi"}}],
                },
            },
        },
    }


def scaled_object(tool_id: str, queue: str) -> dict[str, Any]:
    pool = pool_for(tool_id)
    name = f"agensium-worker-{k8s_name(tool_id)}"
    return {
        "apiVersion": "keda.sh/v1alpha1",
        "kind": "ScaledObject",
        "metadata": {"name": name, "labels": _labels(tool_id, queue)},
        "spec": {
            "scaleTargetRef": {"name": name},
            "pollingInterval": 15,
            "cooldownPeriod": pool.cooldown_seconds,
            "minReplicaCount": pool.min_replicas,
            "maxReplicaCount": pool.max_replicas,
            "advanced": {
                "horizontalPodAutoscalerConfig": {
                    "behavior": {
                        "scaleDown": {
                            "stabilizationWindowSeconds": pool.cooldown_seconds,
                            "policies": [{"type": "Pods", "value": 1, "periodSeconds": 60}],
                        }
                    }
                }
            },
            "triggers": [
                {
                    "type": "redis",
                    "metadata": {
                        "addressFromEnv": "REDIS_ADDRESS",
                        "listName": queue,
                        "listLength": str(pool.list_length),
                        "activationListLength": str(pool.activation_list_length),
                        "databaseIndex": "0",
                        "enableTLS": "false",
                    },
                    "authenticationRef": {"name": REDIS_AUTH},
                }
            ],
        },
    }


def _dump_all(docs: list[dict[str, Any]]) -> str:
    return yaml.safe_dump_all(docs, sort_keys=False, explicit_start=True, width=100)


def render_k8s_workers(tools: dict[str, Any]) -> str:
    docs: list[dict[str, Any]] = []
    for tool_id, tool in tools.items():
        docs.append(worker_deployment(tool_id, tool.queue_name))
        docs.append(scaled_object(tool_id, tool.queue_name))
    header = (
        "# GENERATED by `agensium infra render` from transformers/registry.py: do not edit.\n"
        "# One worker Deployment and one KEDA ScaledObject per tool queue.\n"
    )
    return header + _dump_all(docs)


def _flow(value: Any) -> str:
    return json.dumps(value)


def render_compose_block(tools: dict[str, Any]) -> str:
    lines = [COMPOSE_BEGIN]
    for tool_id, tool in tools.items():
        pool = pool_for(tool_id)
        per_child = pool.max_memory_per_child_kib
        service = f"worker-{k8s_name(tool_id)}"
        lines += [
            f"  {service}:",
            "    <<: *worker",
            f"    mem_limit: {_flow(f'{pool.memory_limit_mb}m')}",
            "    command:",
            *(f"      - {_flow(arg)}" for arg in worker_command(tool.queue_name, pool.concurrency)),
            "    environment:",
            "      <<: *app-env",
            f"      CELERY_WORKER_CONCURRENCY: {_flow(str(pool.concurrency))}",
            f"      WORKER_MEMORY_LIMIT_MB: {_flow(str(pool.task_memory_mb))}",
            f"      CELERY_WORKER_MAX_MEMORY_PER_CHILD: {_flow(str(per_child))}",
            f"      OTEL_SERVICE_NAME: {_flow(service)}",
            f"      WORKER_NODE: {_flow(tool.queue_name)}",
            *(f"      {k}: {_flow(v)}" for k, v in WORKER_METRICS_ENV),
        ]
    lines.append(COMPOSE_END)
    return "\n".join(lines)


def splice_compose(text: str, block: str) -> str:
    start = text.find(COMPOSE_BEGIN)
    end = text.find(COMPOSE_END)
    if start < 0 or end < start:
        raise ValueError(f"{COMPOSE} lacks the generated markers ({COMPOSE_BEGIN!r} … END)")
    return text[:start] + block + text[end + len(COMPOSE_END) :]


def _panel(
    pid: int, title: str, exprs: list[tuple[str, str]], unit: str, x: int, y: int
) -> dict[str, Any]:
    return {
        "id": pid,
        "type": "timeseries",
        "title": title,
        "datasource": {"type": "prometheus", "uid": "prometheus"},
        "gridPos": {"h": 8, "w": 12, "x": x, "y": y},
        "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
        "options": {"legend": {"displayMode": "table", "placement": "bottom"}},
        "targets": [
            {"refId": chr(65 + i), "expr": expr, "legendFormat": legend}
            for i, (expr, legend) in enumerate(exprs)
        ],
    }


def render_dashboard() -> str:
    m = METRICS
    tool = 'tool=~"$tool"'
    panels = [
        _panel(
            1,
            "Queue depth per tool queue",
            [(f'sum by (queue) ({m["queue_depth"]}{{queue=~"$queue"}})', "{{queue}}")],
            "short",
            0,
            0,
        ),
        _panel(
            2,
            "Task rate per tool and status",
            [
                (
                    f"sum by (tool, status) (rate({m['tasks']}{{{tool}}}[5m]))",
                    "{{tool}} {{status}}",
                )
            ],
            "ops",
            12,
            0,
        ),
        _panel(
            3,
            "Task duration p50 / p95 per tool",
            [
                (
                    "histogram_quantile(0.5, sum by (le, tool) "
                    f"(rate({m['task_duration']}_bucket{{{tool}}}[5m])))",
                    "p50 {{tool}}",
                ),
                (
                    "histogram_quantile(0.95, sum by (le, tool) "
                    f"(rate({m['task_duration']}_bucket{{{tool}}}[5m])))",
                    "p95 {{tool}}",
                ),
            ],
            "s",
            0,
            8,
        ),
        _panel(
            4,
            "Failed tasks per tool",
            [
                (
                    f"sum by (tool, status) (rate({m['tasks']}"
                    f'{{{tool}, status=~"FAILED|COMPLETED_WITH_ERRORS"}}[5m]))',
                    "{{tool}} {{status}}",
                )
            ],
            "ops",
            12,
            8,
        ),
        _panel(
            5,
            "Agent duration p95",
            [
                (
                    "histogram_quantile(0.95, sum by (le, agent) "
                    f"(rate({m['agent_duration']}_bucket[5m])))",
                    "{{agent}}",
                )
            ],
            "s",
            0,
            16,
        ),
        _panel(
            6,
            "Credits captured per tool (per hour)",
            [
                (
                    f"sum by (tool) (increase({m['credits_captured']}{{{tool}}}[1h]))",
                    "{{tool}}",
                )
            ],
            "short",
            12,
            16,
        ),
        _panel(
            7,
            "Gateway requests per route and status",
            [
                (
                    f"sum by (route, status) (rate({m['http_requests']}[5m]))",
                    "{{route}} {{status}}",
                )
            ],
            "reqps",
            0,
            24,
        ),
    ]

    def variable(name: str, query: str) -> dict[str, Any]:
        return {
            "name": name,
            "type": "query",
            "datasource": {"type": "prometheus", "uid": "prometheus"},
            "query": query,
            "refresh": 2,
            "includeAll": True,
            "multi": True,
            "allValue": ".*",
            "current": {"text": "All", "value": "$__all"},
        }

    dashboard = {
        "uid": "agensium-ops",
        "title": "Agensium: queues, tasks, credits",
        "schemaVersion": 39,
        "version": 1,
        "editable": True,
        "refresh": "30s",
        "time": {"from": "now-6h", "to": "now"},
        "templating": {
            "list": [
                variable("tool", f"label_values({m['tasks']}, tool)"),
                variable("queue", f"label_values({m['queue_depth']}, queue)"),
            ]
        },
        "panels": panels,
    }
    return json.dumps(dashboard, indent=2) + "\n"


def render_prometheus(tools: dict[str, Any]) -> str:
    """Scrape the gateway and every replica of every worker service (compose DNS returns one
    address per ``--scale`` replica)."""
    services = ["maintenance"] + [f"worker-{k8s_name(t)}" for t in tools]
    config = {
        "global": {"scrape_interval": "15s", "evaluation_interval": "15s"},
        "scrape_configs": [
            {
                "job_name": "gateway",
                "metrics_path": "/metrics",
                # /metrics on the API port is for the operator key only.
                "authorization": {
                    "type": "Bearer",
                    "credentials_file": "/run/secrets/operator_key",
                },
                "static_configs": [{"targets": ["gateway:8000"]}],
            },
            {
                "job_name": "workers",
                "metrics_path": "/metrics",
                "dns_sd_configs": [{"names": services, "type": "A", "port": WORKER_METRICS_PORT}],
                "relabel_configs": [
                    {
                        "source_labels": ["__meta_dns_name"],
                        "target_label": "service",
                    }
                ],
            },
        ],
    }
    header = "# GENERATED by `agensium infra render` from transformers/registry.py: do not edit.\n"
    return header + _dump_all([config])


def render(tools: dict[str, Any] | None = None, root: Path = ROOT) -> dict[Path, str]:
    """Every generated file (path relative to the repository) and its content."""
    if tools is None:
        from transformers.registry import TOOLS

        tools = dict(TOOLS)
    compose = (root / COMPOSE).read_text()
    return {
        K8S_WORKERS: render_k8s_workers(tools),
        COMPOSE: splice_compose(compose, render_compose_block(tools)),
        DASHBOARD: render_dashboard(),
        PROMETHEUS: render_prometheus(tools),
    }


def differences(files: dict[Path, str], root: Path = ROOT) -> list[Path]:
    out = []
    for rel, content in files.items():
        path = root / rel
        if not path.exists() or path.read_text() != content:
            out.append(rel)
    return out


def write(files: dict[Path, str], root: Path) -> None:
    for rel, content in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content)


@app.command("render")
def render_cmd(
    check: Annotated[
        bool, typer.Option("--check", help="Exit 1 if the committed files differ; write nothing.")
    ] = False,
    out: Annotated[
        Path | None, typer.Option(help="Write under this directory instead of the repository.")
    ] = None,
    root: Annotated[Path, typer.Option(hidden=True, help="Repository root.")] = ROOT,
) -> None:
    """Render the per-tool worker Deployments, KEDA ScaledObjects, compose worker services
    and the Grafana dashboard from the tool registry."""
    files = render(root=root)
    if check:
        stale = differences(files, root)
        for rel in stale:
            console.print(f"[red]out of date:[/red] {rel} (run `agensium infra render`)")
        if stale:
            raise typer.Exit(1)
        console.print("infra files match the tool registry")
        return
    target = out or root
    write(files, target)
    for rel in files:
        console.print(f"wrote {target / rel}")


@app.command("ensure-bucket")
def ensure_bucket() -> None:
    """Create the S3 bucket (S3_BUCKET) if it does not exist yet."""
    from core.settings import get_settings
    from core.storage import get_storage

    get_storage().ensure_bucket()
    console.print(f"bucket {get_settings().s3_bucket} is ready")
