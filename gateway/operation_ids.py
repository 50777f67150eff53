"""Short, stable OpenAPI operation ids, written once: an SDK generated from ``/openapi.json``
(openapi-python-client, openapi-generator) names its calls after them, so they read like a
hand-written client (``tasks_create``, ``admin_grants_create``) instead of FastAPI's default
``create_task_v1_tasks_post``. Renaming one breaks generated clients: add, never rename.
``tests/gateway/test_generated_client.py`` fails on a route that is not listed here."""

from __future__ import annotations

from fastapi.routing import APIRoute

OPERATION_IDS: dict[tuple[str, str], str] = {
    ("GET", "/healthz"): "health_live",
    ("GET", "/readyz"): "health_ready",
    ("GET", "/metrics"): "metrics_scrape",
    ("GET", "/v1/me"): "me_get",
    ("POST", "/v1/auth/session"): "auth_session_create",
    ("GET", "/v1/tools"): "tools_list",
    ("GET", "/v1/tools/{tool_id}"): "tools_get",
    ("POST", "/v1/tasks"): "tasks_create",
    ("GET", "/v1/tasks"): "tasks_list",
    ("GET", "/v1/tasks/{task_id}"): "tasks_get",
    ("DELETE", "/v1/tasks/{task_id}"): "tasks_delete",
    ("PUT", "/v1/tasks/{task_id}/files/{role}"): "tasks_files_upload",
    ("POST", "/v1/tasks/{task_id}/process"): "tasks_process",
    ("POST", "/v1/tasks/{task_id}/cancel"): "tasks_cancel",
    ("GET", "/v1/tasks/{task_id}/events"): "tasks_events",
    ("GET", "/v1/tasks/{task_id}/report"): "tasks_report",
    ("GET", "/v1/tasks/{task_id}/outputs"): "tasks_outputs",
    ("GET", "/v1/tasks/{task_id}/report.html"): "tasks_report_html",
    ("GET", "/v1/callbacks/secret"): "callbacks_secret_get",
    ("POST", "/v1/callbacks/secret/rotate"): "callbacks_secret_rotate",
    ("POST", "/v1/billing/estimate"): "billing_estimate",
    ("GET", "/v1/billing/wallet"): "billing_wallet_get",
    ("GET", "/v1/billing/ledger"): "billing_ledger_list",
    ("POST", "/v1/billing/top-ups"): "billing_top_ups_create",
    ("POST", "/v1/billing/stripe/webhook"): "billing_stripe_webhook",
    ("GET", "/v1/usage"): "usage_get",
    ("POST", "/v1/admin/tenants"): "admin_tenants_create",
    ("GET", "/v1/admin/tenants/{tenant_id}"): "admin_tenants_get",
    ("PATCH", "/v1/admin/tenants/{tenant_id}"): "admin_tenants_update",
    ("GET", "/v1/admin/tenants/{tenant_id}/api-keys"): "admin_api_keys_list",
    ("POST", "/v1/admin/tenants/{tenant_id}/api-keys"): "admin_api_keys_create",
    ("DELETE", "/v1/admin/tenants/{tenant_id}/api-keys/{key_id}"): "admin_api_keys_revoke",
    ("POST", "/v1/admin/tenants/{tenant_id}/grants"): "admin_grants_create",
    ("PATCH", "/v1/admin/plans/{plan_id}"): "admin_plans_update",
    ("PUT", "/v1/admin/prices/{agent_id}"): "admin_prices_set",
    ("GET", "/v1/admin/usage"): "admin_usage_get",
    ("GET", "/v1/admin/queues"): "admin_queues_get",
    ("GET", "/v1/admin/readiness"): "admin_readiness_get",
}


def operation_id(route: APIRoute) -> str:
    """FastAPI's ``generate_unique_id_function``: the listed id, else ``<tag>_<function>``."""
    method = sorted(route.methods or {"GET"})[0]
    listed = OPERATION_IDS.get((method, route.path))
    if listed is not None:
        return listed
    tag = str(route.tags[0]) if route.tags else "api"
    return f"{tag}_{route.name}"
