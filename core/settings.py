"""One typed settings object, grouped by concern, every field from the environment.

Local defaults are safe for one machine (SQLite, local Redis, local S3 server). Secrets have
no default anywhere: the local stack generates random ones on first start (``var/secrets.env``),
and production (``APP_ENV=production``) refuses to start without them (core/keys.py).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import PrivateAttr, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from core.keys import Keyring, RootKey, parse_secret_keys

ROOT = Path(__file__).resolve().parent.parent
VAR = ROOT / "var"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=None, extra="ignore", case_sensitive=False)

    app_env: Literal["local", "test", "production"] = "local"

    # --- database
    database_url: str = f"sqlite:///{VAR / 'agensium.db'}"
    database_echo: bool = False
    #: SQLite only (the embedded default): ``NORMAL`` in WAL mode syncs the log at checkpoints,
    #: not at every commit, so a commit costs microseconds instead of an fsync (about 3 ms on
    #: the development disk; a task makes several). The database stays consistent after any
    #: crash; an OS crash or power cut can lose the last commits. ``FULL`` syncs every commit.
    sqlite_synchronous: Literal["FULL", "NORMAL"] = "NORMAL"
    #: PostgreSQL: a server that does not accept a connection in this time is unavailable
    #: (503 with Retry-After in the gateway, a retry in the worker), as is a pool that has no
    #: free connection within ``database_pool_timeout_seconds``.
    database_connect_timeout_seconds: int = 3
    database_pool_timeout_seconds: float = 5.0
    #: PostgreSQL statement_timeout: no single statement holds a request or a worker longer.
    database_statement_timeout_ms: int = 30_000

    # --- redis / celery
    redis_url: str = "redis://127.0.0.1:6379/0"
    celery_broker_url: str | None = None
    celery_result_backend: str | None = None
    celery_task_soft_time_limit: int = 1500
    celery_task_time_limit: int = 1800
    #: Must stay above the hard time limit, or kombu redelivers a running task.
    celery_visibility_timeout: int = 3600
    celery_worker_concurrency: int = 2
    celery_worker_max_memory_per_child: int = 2_000_000  # KiB
    #: Memory one task process may use (MiB). Inputs whose in-memory frame would not fit in it
    #: are analysed out of core from a Parquet working copy (transformers/engine); the k8s and
    #: compose manifests size each pool's memory from it (``agensium infra render``).
    worker_memory_limit_mb: int = 1536
    #: Where the working copies and engine spill files go (default: the system temp directory).
    worker_spill_dir: str | None = None
    task_max_attempts: int = 3
    task_lease_seconds: int = 120
    sweeper_interval_seconds: int = 60
    sweeper_lost_message_after_seconds: int = 300
    retention_inputs_days: int = 7
    retention_outputs_days: int = 30
    retention_unprocessed_days: int = 7

    # --- S3
    s3_endpoint_url: str | None = "http://127.0.0.1:8333"
    s3_bucket: str = "agensium-local"
    s3_region: str = "us-east-1"
    s3_access_key_id: SecretStr = SecretStr("local")
    s3_secret_access_key: SecretStr = SecretStr("local-secret")
    s3_presign_expiry_seconds: int = 3600
    s3_multipart_threshold_mb: int = 16

    # --- gateway
    gateway_host: str = "127.0.0.1"
    gateway_port: int = 8000
    public_base_url: str | None = None
    max_json_body_bytes: int = 1_000_000
    #: Every request body above this is refused with 413 before it is read (file uploads,
    #: which stream to S3 under the plan's own cap, are the one exception).
    max_request_body_bytes: int = 2_000_000
    #: ``host:port`` pairs a callback may target although they are not globally routable
    #: (tests, the local stack); they may use http. Never a whole network.
    callback_allow_hosts: str = ""
    #: Allow http:// callbacks to public hosts (https only by default).
    callback_allow_http: bool = False
    callback_timeout_seconds: float = 10.0
    callback_max_attempts: int = 5

    # --- auth
    admin_api_key: SecretStr | None = None
    #: ``<kid>:<secret>[,<kid>:<secret>]``: root secrets, the first signs (core/keys.py).
    secret_keys: SecretStr | None = None
    #: Shorthand for ``SECRET_KEYS=k0:<secret>``.
    api_key_pepper: SecretStr | None = None
    #: Dashboard session tokens live at most this long (a token claiming more is refused).
    session_token_ttl_seconds: int = 900
    #: After a tenant rotates its callback secret, callbacks carry both signatures this long.
    callback_secret_overlap_seconds: int = 86_400
    principal_cache_seconds: float = 5.0

    # --- rate limits
    ratelimit_storage_uri: str | None = None
    ratelimit_strategy: Literal["moving-window", "sliding-window-counter", "fixed-window"] = (
        "moving-window"
    )
    ratelimit_fail_open: bool = False
    ratelimit_enabled: bool = True
    #: Calls without a valid API key are limited per client address.
    ratelimit_anonymous_per_minute: int = 120

    # --- billing / Stripe
    stripe_api_key: SecretStr | None = None
    stripe_api_base: str | None = None
    stripe_webhook_secret: SecretStr | None = None
    stripe_webhook_tolerance_seconds: int = 300
    credit_packages: str = "small:1000:1000,medium:5000:4500,large:10000:8000"
    stripe_currency: str = "usd"
    #: Billing Meter event name for postpaid usage (value = credits captured).
    stripe_meter_event_name: str = "agensium_credits"
    signup_credits: int = 0

    # --- resilience (issue #21): retries, dependency deadlines, idempotency, spool, readiness
    #: Worker retry of a transient failure: this many seconds doubled per attempt, capped.
    task_retry_backoff_seconds: float = 30.0
    task_retry_backoff_max_seconds: float = 600.0
    #: No retry starts later than this after the task was queued.
    task_retry_budget_seconds: float = 3600.0
    #: Every S3 call: connect and read timeouts and attempts (total deadline ~ their product).
    s3_connect_timeout_seconds: float = 2.0
    s3_read_timeout_seconds: float = 3.0
    s3_max_attempts: int = 1
    #: Seconds a client is told to wait (Retry-After) when a dependency is unavailable.
    dependency_retry_after_seconds: int = 5
    #: A request older than this is dead: its in-progress Idempotency-Key can be taken over.
    gateway_request_timeout_seconds: float = 300.0
    #: Where gateways spool uploads, one gateway-<pid> directory each, dead ones' cleared at
    #: start; default <temp dir>/agensium-spool.
    upload_spool_dir: Path | None = None
    #: Spooled bytes at most at once; past it uploads answer 503 with Retry-After.
    upload_spool_max_bytes: int = 2 * 1024**3
    #: /readyz computes its answer at most this often.
    readiness_cache_seconds: float = 1.5

    # --- observability
    log_level: str = "INFO"
    log_json: bool = True
    otel_enabled: bool = True
    flower_url: str | None = None

    @property
    def broker_url(self) -> str:
        return self.celery_broker_url or self.redis_url

    @property
    def result_backend(self) -> str:
        return self.celery_result_backend or self.redis_url

    @property
    def limiter_storage_uri(self) -> str:
        return self.ratelimit_storage_uri or self.redis_url

    _keyring: Keyring = PrivateAttr(default_factory=lambda: Keyring(()))

    def model_post_init(self, context: object, /) -> None:
        self._keyring = Keyring(self._root_keys())

    def _root_keys(self) -> tuple[RootKey, ...]:
        if self.secret_keys is not None and self.secret_keys.get_secret_value().strip():
            return parse_secret_keys(self.secret_keys.get_secret_value())
        if self.api_key_pepper is not None and self.api_key_pepper.get_secret_value():
            return parse_secret_keys("k0:" + self.api_key_pepper.get_secret_value())
        return ()

    @property
    def keyring(self) -> Keyring:
        return self._keyring

    @property
    def callback_allowed_targets(self) -> frozenset[tuple[str, int]]:
        out: set[tuple[str, int]] = set()
        for item in self.callback_allow_hosts.split(","):
            host, sep, port = item.strip().rpartition(":")
            if sep and host and port.isdigit():
                out.add((host.strip("[]").lower(), int(port)))
        return frozenset(out)

    @field_validator("s3_endpoint_url", mode="before")
    @classmethod
    def _empty_endpoint_means_aws(cls, value: object) -> object:
        """``S3_ENDPOINT_URL=`` (empty) selects AWS S3's own endpoint for the region."""
        return None if isinstance(value, str) and not value.strip() else value

    @model_validator(mode="after")
    def _production_needs_secrets(self) -> Settings:
        keys = self._root_keys()
        if self.app_env == "production":
            missing = [] if keys else ["SECRET_KEYS (or API_KEY_PEPPER)"]
            if self.admin_api_key is None:
                missing.append("ADMIN_API_KEY")
            if missing:
                raise ValueError(f"production requires {', '.join(missing)}")
        if self.session_token_ttl_seconds <= 0 or self.session_token_ttl_seconds > 86_400:
            raise ValueError("SESSION_TOKEN_TTL_SECONDS must be between 1 and 86400")
        if self.celery_task_time_limit >= self.celery_visibility_timeout:
            raise ValueError("CELERY_TASK_TIME_LIMIT must be below CELERY_VISIBILITY_TIMEOUT")
        if self.celery_task_soft_time_limit >= self.celery_task_time_limit:
            raise ValueError("CELERY_TASK_SOFT_TIME_LIMIT must be below CELERY_TASK_TIME_LIMIT")
        return self


@lru_cache
def get_settings() -> Settings:
    return Settings()


def reset_settings() -> None:
    """Forget the cached settings (tests and the local stack change the environment)."""
    get_settings.cache_clear()
