"""The FastAPI application (gateway). It never imports pandas/polars or agent code."""

from __future__ import annotations

from fastapi import FastAPI

from core.logging import configure_logging
from core.telemetry import setup_gateway_telemetry
from gateway import dashboard
from gateway.bodylimit import install_body_limit
from gateway.errors import install_error_handlers
from gateway.hygiene import InputHygieneMiddleware
from gateway.metrics import router as metrics_router
from gateway.operation_ids import operation_id
from gateway.ratelimit import install_rate_limits
from gateway.routers import admin, billing, health, me, reports, stripe_webhook, tasks, tools
from gateway.routers.auth_session import router as auth_session_router
from gateway.routers.usage import router as usage_router

DESCRIPTION = """
Data-quality analysis as a service. Create a task for a tool (`profile-my-data`,
`clean-my-data`, `master-my-data`), upload its files, process it, and fetch the report and
output files. Authenticate with `Authorization: Bearer <api_key>` (or `X-API-Key`).

Errors always have the shape `{"error": {"code", "message", "details"}}`.
"""


def create_app() -> FastAPI:
    configure_logging("gateway")
    from gateway.uploads import prepare_spool

    prepare_spool()  # a spool directory of its own, emptied of any dead gateway's files
    app = FastAPI(
        title="Agensium data-quality API",
        version="1.0.0",
        description=DESCRIPTION,
        generate_unique_id_function=operation_id,
    )
    install_error_handlers(app)
    for module in (health, me, tools, reports, tasks, billing, stripe_webhook, admin):
        app.include_router(module.router)
    app.include_router(tasks.callbacks_router)  # GET /v1/callbacks/secret
    app.include_router(auth_session_router)
    app.include_router(usage_router)
    dashboard.install(app)
    install_body_limit(app)  # inside the rate limiter: a flood of big bodies is throttled too
    app.add_middleware(InputHygieneMiddleware)
    # Rate limits (gateway/ratelimit.py): checked before the routes run.
    install_rate_limits(app)
    app.include_router(metrics_router)  # /metrics, /v1/admin/queues
    setup_gateway_telemetry(app)  # last: outside the rate limiter, so 429s count too
    _warm_publisher_soon()
    return app


def _warm_publisher_soon() -> None:
    """Connect to the broker in the background: the first ``process`` publishes on a warm
    connection (``workers.enqueue.warm_publisher``)."""
    import threading

    from workers.enqueue import warm_publisher

    threading.Thread(target=warm_publisher, name="warm-publisher", daemon=True).start()


app = create_app()
