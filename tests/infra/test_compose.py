"""infra/compose.yaml: parses, has every service of the production-like run, and every
command refers to a real entry point."""

from __future__ import annotations

import importlib
import importlib.util
import json
import re
import tomllib
from pathlib import Path
from typing import Any

import pytest
import typer
import yaml

from gateway.cli import app as agensium_cli
from gateway.cli import infra as render_mod
from transformers.registry import TOOLS
from workers.queues import all_queues

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "infra" / "compose.yaml"
OUR_IMAGES = {"agensium-gateway:local", "agensium-worker:local"}
#: Third-party images: the executables (or the image entrypoint's sub-commands) we may call.
KNOWN_BINARIES = {
    "postgres": None,  # default command
    "redis": {"redis-server"},
    "chrislusf/seaweedfs": {"server"},  # the image's entrypoint runs `weed <sub-command>`
    "otel/opentelemetry-collector-contrib": {"--config"},
    "jaegertracing/all-in-one": None,
    "prom/prometheus": {"--config.file"},
    "grafana/grafana": None,
}


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return data


def _argv(service: dict[str, Any]) -> list[str]:
    command = service.get("command")
    return command if isinstance(command, list) else str(command).split() if command else []


def _console_scripts() -> dict[str, str]:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    scripts: dict[str, str] = pyproject["project"]["scripts"]
    return scripts


def _check_agensium(argv: list[str]) -> None:
    assert "agensium" in _console_scripts()
    # Typer may bring its own click: walk the command tree by duck typing.
    cmd: Any = typer.main.get_command(agensium_cli)
    for word in argv[1:]:
        if word.startswith("-"):
            break
        commands = getattr(cmd, "commands", None)
        assert commands is not None, f"{argv}: {word!r} below a leaf command"
        assert word in commands, f"`agensium {' '.join(argv[1:])}`: no command {word!r}"
        cmd = commands[word]
    assert getattr(cmd, "commands", None) is None, f"{argv} names a group, not a command"


def _check_celery(argv: list[str]) -> None:
    assert argv[1] == "-A"
    module, _, attr = argv[2].partition(":")
    app = getattr(importlib.import_module(module), attr or "app")
    assert app.main == "agensium"
    assert argv[3] in {"worker", "flower", "beat", "inspect"}
    if argv[3] == "worker":
        queues = argv[argv.index("-Q") + 1].split(",")
        assert set(queues) <= set(all_queues()), queues
    if argv[3] == "flower":
        assert importlib.util.find_spec("flower") is not None


def _check_python(argv: list[str]) -> None:
    assert argv[1] == "-m"
    spec = importlib.util.find_spec(argv[2])
    assert spec is not None, f"{argv}: no module {argv[2]}"
    if spec.submodule_search_locations:  # a package runs its __main__
        assert importlib.util.find_spec(f"{argv[2]}.__main__") is not None, argv


def test_compose_parses_and_has_every_service(compose: dict[str, Any]) -> None:
    services = compose["services"]
    expected = {
        "postgres",
        "redis",
        "seaweedfs",
        "migrate",
        "bucket",
        "gateway",
        "maintenance",
        "flower",
        "otel-collector",
        "jaeger",
        "prometheus",
        "grafana",
    } | {f"worker-{render_mod.k8s_name(t)}" for t in TOOLS}
    assert expected <= set(services)
    redis_cmd = _argv(services["redis"])
    assert redis_cmd[redis_cmd.index("--appendonly") + 1] == "yes"
    assert redis_cmd[redis_cmd.index("--maxmemory-policy") + 1] == "noeviction"
    assert _argv(services["migrate"]) == ["agensium", "db", "upgrade"]
    assert "-B" in _argv(services["maintenance"])
    assert [s for s, v in services.items() if "-B" in _argv(v)] == ["maintenance"]


def test_every_command_refers_to_a_real_entry_point(compose: dict[str, Any]) -> None:
    for name, service in compose["services"].items():
        argv = _argv(service)
        image = service["image"]
        if image in OUR_IMAGES:
            checks = {"agensium": _check_agensium, "celery": _check_celery, "python": _check_python}
            assert argv and argv[0] in checks, f"{name}: {argv}"
            checks[argv[0]](argv)
            if argv[0] == "celery":
                assert image == "agensium-worker:local", f"{name}: Celery needs the worker image"
        else:
            repo, _, tag = image.rpartition(":")
            assert re.fullmatch(r"v?\d+(\.\d+){1,2}(-[a-z]+)?", tag), f"{name}: unpinned {image}"
            allowed = KNOWN_BINARIES[repo]
            if argv:
                assert allowed is not None, f"{name}: unexpected command {argv}"
                assert argv[0].split("=")[0] in allowed, f"{name}: {argv[0]}"


def test_the_entry_point_check_rejects_a_missing_command() -> None:
    with pytest.raises(AssertionError):
        _check_agensium(["agensium", "db", "downgrade-everything"])
    with pytest.raises(AssertionError):
        _check_celery(["celery", "-A", "workers.app", "worker", "-Q", "no-such-queue"])
    with pytest.raises(AssertionError):
        _check_python(["python", "-m", "gateway_that_does_not_exist"])


def test_worker_pools_are_scalable_and_shut_down_warm(compose: dict[str, Any]) -> None:
    limit = render_mod.TASK_TIME_LIMIT
    for name, service in compose["services"].items():
        argv = _argv(service)
        if argv[:4] != ["celery", "-A", "workers.app", "worker"]:
            continue
        grace = service["stop_grace_period"]
        assert grace.endswith("s") and int(grace[:-1]) > limit, name
        assert service.get("stop_signal", "SIGTERM") == "SIGTERM", name
        assert "REMAP_SIGTERM" not in service["environment"], name
        if name != "maintenance":  # `--scale` needs no fixed name and no host port
            assert "container_name" not in service and "ports" not in service, name


def test_mounted_config_files_exist(compose: dict[str, Any]) -> None:
    missing = []
    for name, service in compose["services"].items():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith(".") and not (COMPOSE.parent / source).exists():
                missing.append(f"{name}: {source}")
    assert not missing, missing


def test_no_secret_values_in_compose(compose: dict[str, Any]) -> None:
    env = compose["services"]["gateway"]["environment"]
    for key in ("ADMIN_API_KEY", "API_KEY_PEPPER", "S3_SECRET_ACCESS_KEY"):
        assert re.fullmatch(r"\$\{" + key + r":\?[^}]*\}", env[key]), key
    assert "${POSTGRES_PASSWORD" in env["DATABASE_URL"]
    assert "${REDIS_PASSWORD" in env["REDIS_URL"]


def _exposed() -> dict[str, set[str]]:
    """Exposed metric name → label names, from the metric objects themselves."""
    from prometheus_client import Counter

    from core import metrics

    out: dict[str, set[str]] = {"agensium_queue_depth": {"queue"}}  # gateway/metrics.py
    for value in vars(metrics).values():
        if hasattr(value, "_labelnames") and hasattr(value, "_name"):
            suffix = "_total" if isinstance(value, Counter) else ""
            out[value._name + suffix] = set(value._labelnames)
    return out


def test_dashboard_queries_metrics_and_labels_that_exist() -> None:
    exposed = _exposed()
    assert set(render_mod.METRICS.values()) <= set(exposed)
    dashboard = json.loads((ROOT / render_mod.DASHBOARD).read_text())
    exprs = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    assert len(exprs) >= 7
    for expr in exprs:
        names = {n.removesuffix("_bucket") for n in re.findall(r"agensium_[a-z_]+", expr)}
        assert names and names <= set(exposed), expr
        labels = set(exposed[next(iter(names))]) | {"le"}
        used = set(re.findall(r"by \(([^)]*)\)", expr))
        used_labels = {x.strip() for group in used for x in group.split(",")}
        used_labels |= set(re.findall(r"[{,]\s*([a-z_]+)=~?", expr))
        assert used_labels <= labels, (expr, used_labels - labels)
    panels = " ".join(p["title"].lower() for p in dashboard["panels"])
    for topic in ("queue depth", "rate", "duration", "failed", "credits"):
        assert topic in panels


def test_prometheus_scrapes_the_gateway_and_every_worker_service(
    compose: dict[str, Any],
) -> None:
    prom = yaml.safe_load((ROOT / render_mod.PROMETHEUS).read_text())
    jobs = {j["job_name"]: j for j in prom["scrape_configs"]}
    assert jobs["gateway"]["static_configs"][0]["targets"] == ["gateway:8000"]
    names = set(jobs["workers"]["dns_sd_configs"][0]["names"])
    port = jobs["workers"]["dns_sd_configs"][0]["port"]
    workers = {
        n
        for n, s in compose["services"].items()
        if _argv(s)[:4] == ["celery", "-A", "workers.app", "worker"]
    }
    assert names == workers
    for name in workers:
        env = compose["services"][name]["environment"]
        assert env["AGENSIUM_WORKER_METRICS_PORT"] == str(port), name
        assert env["PROMETHEUS_MULTIPROC_DIR"], name
    provider = yaml.safe_load(
        (ROOT / "infra/grafana/provisioning/dashboards/agensium.yaml").read_text()
    )
    grafana_mounts = compose["services"]["grafana"]["volumes"]
    assert (
        f"./grafana/dashboards:{provider['providers'][0]['options']['path']}:ro" in grafana_mounts
    )
