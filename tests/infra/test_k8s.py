"""The Kubernetes manifests: schema-valid, one autoscaled pool per tool queue, safe scale-in,
secrets only by reference."""

from __future__ import annotations

from typing import Any

import jsonschema
import kubernetes_validate
import pytest
from celery import Celery

from core.settings import Settings
from gateway.cli import infra as render_mod
from tests.infra._manifests import (
    K8S_BASE,
    K8S_PROD,
    K8S_VERSION,
    base_resources,
    containers,
    keda_schema,
    kustomize,
    of_kind,
    pod_spec,
)
from transformers.registry import TOOLS
from workers.queues import MAINTENANCE_QUEUE, all_queues

KEDA_KINDS = {"ScaledObject", "ScaledJob", "TriggerAuthentication"}
SECRET_SETTINGS = {name for name, _ in render_mod.SECRET_ENV} | {"REDIS_PASSWORD"}
WORKLOADS = ("Deployment", "Job")


def _validate(docs: list[dict[str, Any]]) -> None:
    assert docs
    for doc in docs:
        where = f"{doc['kind']}/{doc['metadata']['name']}"
        if doc["kind"] in KEDA_KINDS:
            assert doc["apiVersion"] == "keda.sh/v1alpha1", where
            try:
                jsonschema.validate(doc, keda_schema(doc["kind"]))
            except jsonschema.ValidationError as exc:
                pytest.fail(f"{where}: {exc.message} at {list(exc.absolute_path)}")
        else:
            try:
                kubernetes_validate.validate(doc, K8S_VERSION, strict=True)
            except kubernetes_validate.ValidationError as exc:
                pytest.fail(f"{where}: {exc.message} at {list(exc.path)}")


def test_every_base_manifest_validates_against_kubernetes_and_keda_schemas() -> None:
    _validate(base_resources())


@pytest.mark.parametrize("path", [K8S_BASE, K8S_PROD], ids=["base", "production"])
def test_kustomize_build_validates(path: Any) -> None:
    built = kustomize(path)
    if built is None:
        pytest.skip("kubectl is not installed (the file-by-file validation still ran)")
    _validate(built)
    assert {d["metadata"].get("namespace") for d in built if d["kind"] != "Namespace"} == {
        "agensium"
    }


def test_validation_catches_a_broken_manifest() -> None:
    """The validators are strict enough to fail on the mistakes that matter."""
    docs = base_resources()
    so = dict(of_kind(docs, "ScaledObject")[0])
    so["spec"] = {**so["spec"], "minReplicaCount": "one"}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(so, keda_schema("ScaledObject"))
    dep = of_kind(docs, "Deployment")[0]
    broken = {**dep, "spec": {**dep["spec"], "replica": 2}}  # typo: strict mode rejects it
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, K8S_VERSION, strict=True)


def test_each_tool_queue_has_a_worker_deployment_and_a_redis_scaler() -> None:
    docs = base_resources()
    deployments = {d["metadata"]["name"]: d for d in of_kind(docs, "Deployment")}
    auths = {d["metadata"]["name"] for d in of_kind(docs, "TriggerAuthentication")}
    scaled = of_kind(docs, "ScaledObject")
    by_queue = {so["spec"]["triggers"][0]["metadata"]["listName"]: so for so in scaled}
    assert set(by_queue) == {t.queue_name for t in TOOLS.values()}
    for queue, so in by_queue.items():
        spec = so["spec"]
        target = deployments[spec["scaleTargetRef"]["name"]]
        command = containers(target)[0]["command"]
        assert command[command.index("-Q") + 1] == queue  # the scaler watches what it serves
        trigger = spec["triggers"][0]
        assert trigger["type"] == "redis"
        assert trigger["authenticationRef"]["name"] in auths
        meta = trigger["metadata"]
        assert int(meta["listLength"]) >= 1
        assert int(meta["activationListLength"]) >= 0
        assert 0 <= spec["minReplicaCount"] <= spec["maxReplicaCount"]
    # The maintenance pool (beat) is never autoscaled.
    targets = {so["spec"]["scaleTargetRef"]["name"] for so in scaled}
    assert "agensium-maintenance" not in targets


def _soft_shutdown_timeout(command: list[str]) -> float:
    """What Celery itself parses from the command line's ``key=value`` configuration."""
    extra = [a for a in command if "=" in a and not a.startswith("-")]
    conf = Celery().loader.cmdline_config_parser(extra, namespace="worker")
    return float(conf.get("worker_soft_shutdown_timeout", 0.0))


def _env_value(container: dict[str, Any], name: str, config: dict[str, str]) -> int:
    for item in container.get("env", []):
        if item["name"] == name and "value" in item:
            return int(item["value"])
    return int(config[name])


def test_scale_in_never_kills_a_running_task() -> None:
    """SIGTERM → Celery warm shutdown; Kubernetes waits longer than the hard time limit before
    SIGKILL, and a cold shutdown still waits the task out (soft shutdown)."""
    docs = base_resources()
    config = of_kind(docs, "ConfigMap")[0]["data"]
    default_limit = Settings.model_fields["celery_task_time_limit"].default
    workers = [
        d
        for d in of_kind(docs, "Deployment")
        if d["metadata"]["labels"]["app.kubernetes.io/component"] in ("worker", "maintenance")
    ]
    assert len(workers) == len(TOOLS) + 1
    for dep in workers:
        grace = pod_spec(dep)["terminationGracePeriodSeconds"]
        (container,) = containers(dep)
        limit = _env_value(container, "CELERY_TASK_TIME_LIMIT", config)
        assert limit == default_limit
        assert grace > limit, dep["metadata"]["name"]
        soft = _soft_shutdown_timeout(container["command"])
        assert limit <= soft < grace, dep["metadata"]["name"]
        assert container["command"][:4] == ["celery", "-A", "workers.app", "worker"]
        # Exec form: Celery itself is PID 1 and gets the SIGTERM; REMAP_SIGTERM would turn
        # it into a cold shutdown.
        assert not any(e["name"] == "REMAP_SIGTERM" for e in container.get("env", []))


def test_time_limits_in_config_pass_the_settings_validation() -> None:
    config = of_kind(base_resources(), "ConfigMap")[0]["data"]
    s = Settings(
        **{k.lower(): v for k, v in config.items() if k.lower() in Settings.model_fields},
        admin_api_key="x",
        api_key_pepper="y" * 32,  # root secrets need 16+ characters
    )
    assert s.celery_task_time_limit < s.celery_visibility_timeout
    assert s.app_env == "production"


def test_beat_runs_as_exactly_one_replica() -> None:
    docs = base_resources()
    beats = [d for d in of_kind(docs, "Deployment") if "-B" in containers(d)[0].get("command", [])]
    assert [d["metadata"]["name"] for d in beats] == ["agensium-maintenance"]
    (beat,) = beats
    assert beat["spec"]["replicas"] == 1
    assert beat["spec"]["strategy"]["type"] == "Recreate"  # never two during a rollout
    command = containers(beat)[0]["command"]
    assert command[command.index("-Q") + 1] == MAINTENANCE_QUEUE


def test_gateway_has_service_hpa_and_disruption_budget() -> None:
    docs = base_resources()
    (gw,) = [d for d in of_kind(docs, "Deployment") if d["metadata"]["name"] == "agensium-gateway"]
    labels = gw["spec"]["template"]["metadata"]["labels"]
    (svc,) = of_kind(docs, "Service")
    assert svc["spec"]["selector"].items() <= labels.items()
    (hpa,) = of_kind(docs, "HorizontalPodAutoscaler")
    assert hpa["spec"]["scaleTargetRef"]["name"] == "agensium-gateway"
    assert hpa["spec"]["minReplicas"] >= 2
    (pdb,) = of_kind(docs, "PodDisruptionBudget")
    assert pdb["spec"]["selector"]["matchLabels"].items() <= labels.items()
    assert pdb["spec"]["minAvailable"] < hpa["spec"]["minReplicas"]  # a node can still drain
    c = containers(gw)[0]
    assert c["command"] == ["python", "-m", "gateway"]
    assert c["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert c["livenessProbe"]["httpGet"]["path"] == "/healthz"
    (job,) = of_kind(docs, "Job")
    assert containers(job)[0]["command"] == ["agensium", "db", "upgrade"]


def test_secrets_only_by_reference() -> None:
    docs = base_resources()
    built = kustomize(K8S_PROD) or []
    assert not of_kind(docs + built, "Secret"), "no Secret objects (values) in the repository"
    for cm in of_kind(docs + built, "ConfigMap"):
        leaked = SECRET_SETTINGS & set(cm["data"])
        assert not leaked, f"secret settings in a ConfigMap: {leaked}"
    for dep in [d for d in docs if d["kind"] in WORKLOADS]:
        for c in containers(dep):
            names = {e["name"] for e in c.get("env", [])}
            for e in c.get("env", []):
                if e["name"] in SECRET_SETTINGS:
                    assert "value" not in e, (dep["metadata"]["name"], e["name"])
                    assert e["valueFrom"]["secretKeyRef"]["key"] == e["name"]
            # Every process needs the database, the broker and the pepper.
            assert {"DATABASE_URL", "REDIS_URL", "API_KEY_PEPPER"} <= names
    (auth,) = of_kind(docs, "TriggerAuthentication")
    assert auth["spec"]["secretTargetRef"][0]["parameter"] == "password"


def test_pods_run_unprivileged() -> None:
    for dep in [d for d in base_resources() if d["kind"] in WORKLOADS]:
        assert pod_spec(dep)["securityContext"]["runAsNonRoot"] is True
        assert pod_spec(dep)["securityContext"]["runAsUser"] != 0
        for c in containers(dep):
            assert c["securityContext"]["allowPrivilegeEscalation"] is False


def test_production_overlay_turns_on_tls_for_every_scaler() -> None:
    built = kustomize(K8S_PROD)
    if built is None:
        pytest.skip("kubectl is not installed")
    scaled = of_kind(built, "ScaledObject")
    assert len(scaled) == len(TOOLS)
    assert {so["spec"]["triggers"][0]["metadata"]["enableTLS"] for so in scaled} == {"true"}
    images = {c["image"] for d in built if d["kind"] in WORKLOADS for c in containers(d)}
    assert all(":" in i and "/" in i for i in images), images


def test_celery_declares_the_queues_the_scalers_watch() -> None:
    from workers.config import celery_config

    declared = {q.name for q in celery_config(Settings())["task_queues"]}
    assert declared == set(all_queues())
