"""The Celery application. ``celery -A workers.app worker -Q clean-my-data`` serves one tool.

The gateway imports this module only to *send* by task name: the task modules are listed in
``include`` and imported by worker processes at start, never by the producer.
"""

from __future__ import annotations

from celery import Celery

from core.settings import get_settings


def create_app() -> Celery:
    from workers.config import celery_config

    app = Celery("agensium", include=["workers.celery_tasks", "workers.signals"])
    app.conf.update(celery_config(get_settings()))
    return app


app = create_app()
celery = app  # ``celery -A workers.app`` looks for ``app`` or ``celery``
