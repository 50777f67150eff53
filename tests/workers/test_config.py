"""The Celery configuration keeps the delivery invariants (spec + ARCHITECTURE.md #6)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from core.settings import Settings
from transformers.registry import TOOLS
from workers.config import celery_config


def test_acks_late_prefetch_one_json_only_and_no_implicit_queues():
    conf = celery_config(Settings())
    assert conf["task_acks_late"] is True
    assert conf["task_reject_on_worker_lost"] is True
    assert conf["worker_prefetch_multiplier"] == 1
    assert conf["accept_content"] == ["json"]
    assert conf["task_serializer"] == conf["result_serializer"] == "json"
    assert conf["task_create_missing_queues"] is False
    assert conf["worker_send_task_events"] is True
    assert conf["task_send_sent_event"] is False  # one broker round trip per publish, not two


def test_hard_limit_is_below_the_visibility_timeout_everywhere_kombu_reads_it():
    conf = celery_config(Settings())
    vt = conf["broker_transport_options"]["visibility_timeout"]
    assert conf["task_time_limit"] < vt
    assert conf["result_backend_transport_options"]["visibility_timeout"] == vt
    assert conf["visibility_timeout"] == vt
    assert conf["task_soft_time_limit"] < conf["task_time_limit"]


def test_settings_refuse_a_hard_limit_at_or_above_the_visibility_timeout():
    with pytest.raises(ValidationError, match="VISIBILITY_TIMEOUT"):
        Settings(celery_task_time_limit=3600, celery_visibility_timeout=3600)


def test_one_queue_per_registered_tool_plus_maintenance():
    names = [q.name for q in celery_config(Settings())["task_queues"]]
    assert names == [t.queue_name for t in TOOLS.values()] + ["maintenance"]


def test_tls_redis_urls_enable_certificate_checks():
    import ssl

    conf = celery_config(Settings(redis_url="rediss://:secret@redis.example.com:6380/0"))
    assert conf["broker_use_ssl"] == {"ssl_cert_reqs": ssl.CERT_REQUIRED}
    assert conf["redis_backend_use_ssl"] == {"ssl_cert_reqs": ssl.CERT_REQUIRED}


def test_production_refuses_to_start_without_secrets():
    with pytest.raises(ValidationError, match="API_KEY_PEPPER"):
        Settings(app_env="production", admin_api_key=None, api_key_pepper=None)


def test_an_empty_s3_endpoint_selects_aws_s3(monkeypatch):
    monkeypatch.setenv("S3_ENDPOINT_URL", "")
    assert Settings().s3_endpoint_url is None
