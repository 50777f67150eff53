"""Shared Redis client (progress pub/sub, quotas, caches). Celery has its own connections."""

from __future__ import annotations

from functools import lru_cache

import redis

from core.settings import get_settings


@lru_cache
def get_redis() -> redis.Redis:
    return redis.Redis.from_url(
        get_settings().redis_url,
        socket_timeout=5,
        socket_connect_timeout=3,
        health_check_interval=30,
    )


def reset_redis() -> None:
    get_redis.cache_clear()


def progress_channel(task_id: str) -> str:
    return f"agensium:task:{task_id}:events"
