"""The one settings object of relatoria, read from `RELATORIA_*` environment variables."""

import os
import secrets
import socket
from datetime import timedelta
from typing import Annotated, Any, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from relatoria_shared.domain.lanes import Lane
from relatoria_shared.domain.owner_limits import OwnerLimits
from relatoria_shared.domain.retry_policy import RetryPolicy
from relatoria_shared.domain.table_validation import TableLimits
from relatoria_shared.domain.webhooks import WebhookSchedule

_SYMMETRIC = frozenset({"HS256", "HS384", "HS512"})
_ASYMMETRIC = frozenset({"RS256", "RS384", "RS512", "ES256", "ES384", "PS256", "EdDSA"})


def _default_worker_id() -> str:
    # The random part tells a restarted container (same host name, same pid 1) from the
    # process before it, whose liveness lock must be seen released.
    return f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(3)}"


class Settings(BaseSettings):
    """Every setting of the BFF and the worker. Twelve-factor: environment only."""

    model_config = SettingsConfigDict(env_prefix="RELATORIA_", extra="ignore", frozen=True)

    # PostgreSQL (source of truth)
    database_url: SecretStr = SecretStr("postgresql+asyncpg://postgres@127.0.0.1:5432/relatoria")
    database_pool_size: int = Field(default=10, ge=1)
    # Client-side bound on every statement and connection attempt of the services.
    database_timeout_seconds: float = Field(default=30.0, gt=0)

    # RabbitMQ (delivery)
    amqp_url: SecretStr = SecretStr("amqp://guest:guest@127.0.0.1:5672/")
    amqp_namespace: str = Field(default="relatoria", pattern=r"^[A-Za-z0-9_.\-]{1,100}$")
    publish_timeout_seconds: float = Field(default=5.0, gt=0)

    # Redis (status cache)
    redis_url: SecretStr = SecretStr("redis://127.0.0.1:6379/0")
    redis_prefix: str = "relatoria:"
    status_cache_ttl_seconds: int = Field(default=86_400, ge=1)
    status_cache_active_ttl_seconds: int = Field(default=30, ge=1)
    redis_timeout_seconds: float = Field(default=0.5, gt=0)

    # S3 (artifacts)
    s3_bucket: str = "relatoria-reports"
    s3_region: str = "us-east-1"
    s3_endpoint_url: str | None = None
    s3_public_endpoint_url: str | None = None
    s3_access_key_id: str | None = None
    s3_secret_access_key: SecretStr | None = None
    s3_key_prefix: str = "reports/"
    presign_ttl_seconds: int = Field(default=900, ge=1, le=7 * 86_400)
    # How long a finished report's file is kept: then `relatoria-admin cleanup` deletes it
    # and the report becomes `expired`.
    artifact_retention_seconds: int = Field(default=7 * 86_400, ge=60)

    # Authentication (bearer JWT)
    jwt_algorithms: list[str] = ["HS256"]
    jwt_secret: SecretStr | None = None
    # Also accepted while a secret rotation is under way (tokens signed before the switch).
    jwt_previous_secret: SecretStr | None = None
    jwt_jwks_url: str | None = None
    jwt_issuer: str = "relatoria"
    jwt_audience: str = "relatoria"
    jwt_leeway_seconds: int = Field(default=30, ge=0)
    # Accept the public development secret of `.env.dev` (development machines only).
    jwt_allow_development_secret: bool = False

    # Request limits (BFF)
    max_body_bytes: int = Field(default=10 * 1024 * 1024, ge=1024)
    # Bytes of large bodies (over 256 KiB) one BFF process reads and parses at once; a
    # parsed table takes several times its size. Past it, a large body waits, unread, up
    # to `bff_body_wait_seconds`, then is answered 503 with Retry-After.
    bff_body_budget_bytes: int = Field(default=12 * 1024 * 1024, ge=1024)
    bff_body_wait_seconds: float = Field(default=30.0, gt=0)
    max_rows: int = Field(default=50_000, ge=1)
    max_columns: int = Field(default=100, ge=1)
    max_cell_chars: int = Field(default=32_767, ge=1)

    # Reporting database (data-source report types read it; read-only, its own DSN)
    reporting_database_url: SecretStr | None = None
    reporting_statement_timeout_seconds: float = Field(default=300.0, gt=0)
    reporting_fetch_rows: int = Field(default=5_000, ge=1, le=100_000)
    pdf_max_rows: int = Field(default=100_000, ge=1)

    # BFF process
    # The BFF's address as clients reach it: webhook payloads link to it.
    public_url: str = "http://127.0.0.1:8000"
    bff_host: str = "127.0.0.1"
    bff_port: int = 8000
    # Proxies whose X-Forwarded-For/Proto the BFF believes: comma-separated IPs or CIDRs, or *.
    forwarded_allow_ips: str = "127.0.0.1"
    # How long an idle keep-alive connection is kept: longer than clients' and proxies'
    # own idle timeouts (an ALB's is 60 s), so that they, not the BFF, close it.
    bff_keep_alive_seconds: int = Field(default=75, ge=1)
    # The longest a request may wait for its report (`?wait=N`, `Prefer: wait=N`): under
    # API Gateway's 29 s limit for the Lambda deployment, and proxies' read timeouts.
    max_wait_seconds: int = Field(default=25, ge=0, le=600)

    # Worker process
    worker_id: str = Field(default_factory=_default_worker_id)
    # Comma-separated in the environment: RELATORIA_WORKER_LANES=interactive,bulk
    worker_lanes: Annotated[list[Lane], NoDecode, Field(min_length=1)] = [
        Lane.INTERACTIVE,
        Lane.BULK,
    ]
    worker_concurrency: int = Field(default=4, ge=1)  # the interactive lane's
    bulk_concurrency: int = Field(default=1, ge=1)
    bulk_render_nice: int = Field(default=10, ge=0, le=19)
    shutdown_grace_seconds: float = Field(default=30.0, ge=0)
    temp_dir: str | None = None
    # Touched every heartbeat while the worker's event loop runs (relatoria-worker-alive).
    liveness_file: str | None = None
    # Prometheus metrics served on this port (any path, e.g. /metrics); 0: not served.
    metrics_port: int = Field(default=9100, ge=0, le=65_535)

    # Failure semantics: leases, retries, dead letters, the sweeper
    lease_seconds: float = Field(default=15.0, ge=1)
    heartbeat_seconds: float = Field(default=5.0, gt=0)
    job_timeout_seconds: float = Field(default=3600.0, gt=0)
    max_attempts: int = Field(default=5, ge=1, le=20)
    retry_base_seconds: float = Field(default=2.0, gt=0)
    retry_factor: float = Field(default=3.0, ge=1)
    retry_cap_seconds: float = Field(default=300.0, gt=0)
    retry_jitter: float = Field(default=0.2, ge=0, lt=1)
    delivery_limit: int = Field(default=10, ge=1)
    # How often each worker looks for jobs of dead workers (their liveness lock released)
    # and of silent ones (lease expired), and refreshes the queue-age gauge.
    sweep_interval_seconds: float = Field(default=1.0, gt=0)
    # A worker with a free slot and no wake-up for this long claims due work on its own
    # (a wake-up lost by the broker delays a request by at most this).
    idle_poll_seconds: float = Field(default=2.0, gt=0)

    # Fair sharing and per-owner limits (counted in PostgreSQL, per owner and lane)
    owner_max_in_flight: int = Field(default=100_000, ge=1)
    owner_posts_per_second: float = Field(default=10_000.0, gt=0)
    owner_post_burst: int = Field(default=20_000, ge=1)
    # About one job's time in each lane: how far one request moves its owner's clock.
    fair_quantum_seconds: float = Field(default=0.1, gt=0)
    bulk_fair_quantum_seconds: float = Field(default=60.0, gt=0)

    # Webhooks: deliveries retried with exponential backoff (base * factor^n, capped) for
    # at least `webhook_retry_horizon_seconds` after the first attempt, then dead-lettered.
    # At most 6 days: a done report's presigned URL in the payload must outlive the
    # retries, and S3 signs for 7 days at most.
    webhook_retry_horizon_seconds: float = Field(default=86_400.0, gt=0, le=6 * 86_400)
    webhook_retry_base_seconds: float = Field(default=5.0, gt=0)
    webhook_retry_factor: float = Field(default=5.0, ge=1)
    webhook_retry_cap_seconds: float = Field(default=7_200.0, gt=0)
    webhook_connect_timeout_seconds: float = Field(default=5.0, gt=0)
    webhook_read_timeout_seconds: float = Field(default=10.0, gt=0)
    webhook_max_response_bytes: int = Field(default=65_536, ge=0)
    # Deliveries one worker sends at once.
    webhook_concurrency: int = Field(default=16, ge=1)
    # Endpoints one owner may register (each report's end is sent to every one).
    webhook_max_endpoints: int = Field(default=20, ge=1)
    # Hosts and networks webhooks may reach although not public (and over plain http):
    # comma-separated names, addresses or CIDRs, e.g. localhost,127.0.0.0/8 (development).
    webhook_allowed_hosts: Annotated[list[str], NoDecode] = []

    # Logging
    log_level: str = "INFO"
    log_format: Literal["json", "console"] = "json"

    # Traces: exported over OTLP/HTTP to this collector (e.g. http://otel-collector:4318)
    otlp_endpoint: str | None = None

    @model_validator(mode="after")
    def _check_jwt(self) -> "Settings":
        algorithms = set(self.jwt_algorithms)
        if not algorithms or not algorithms <= _SYMMETRIC | _ASYMMETRIC:
            raise ValueError(
                f"jwt_algorithms must be drawn from {sorted(_SYMMETRIC | _ASYMMETRIC)}"
            )
        # Mixing families would let a token choose how it is verified (RS public key
        # used as an HMAC secret); one family per deployment.
        if algorithms & _SYMMETRIC and algorithms & _ASYMMETRIC:
            raise ValueError("jwt_algorithms must be all HMAC (HS*) or all asymmetric")
        return self

    @model_validator(mode="after")
    def _check_lease(self) -> "Settings":
        # A heartbeat slower than the lease would let live jobs be taken over.
        if self.heartbeat_seconds * 2 > self.lease_seconds:
            raise ValueError("heartbeat_seconds must be at most half of lease_seconds")
        return self

    @field_validator("worker_lanes", "webhook_allowed_hosts", mode="before")
    @classmethod
    def _split_commas(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    def lane_concurrency(self, lane: Lane) -> int:
        """How many jobs of `lane` one worker runs at once."""
        return self.bulk_concurrency if lane is Lane.BULK else self.worker_concurrency

    # Derived objects are properties, not cached: `model_copy(update=…)` would copy a cached
    # value along with the fields it was derived from, and keep it stale.
    @property
    def retry_policy(self) -> RetryPolicy:
        """The backoff these settings describe."""
        return RetryPolicy(
            base_seconds=self.retry_base_seconds,
            factor=self.retry_factor,
            cap_seconds=self.retry_cap_seconds,
            jitter=self.retry_jitter,
            max_attempts=self.max_attempts,
        )

    @property
    def webhook_schedule(self) -> WebhookSchedule:
        """When failed webhook deliveries are tried again, and for how long."""
        return WebhookSchedule(
            base_seconds=self.webhook_retry_base_seconds,
            factor=self.webhook_retry_factor,
            cap_seconds=self.webhook_retry_cap_seconds,
            horizon_seconds=self.webhook_retry_horizon_seconds,
        )

    @property
    def owner_limits(self) -> OwnerLimits:
        """Fair sharing and the per-owner limits these settings describe."""
        return OwnerLimits(
            max_in_flight=self.owner_max_in_flight,
            posts_per_second=self.owner_posts_per_second,
            post_burst=self.owner_post_burst,
            interactive_quantum_seconds=self.fair_quantum_seconds,
            bulk_quantum_seconds=self.bulk_fair_quantum_seconds,
        )

    @property
    def lease(self) -> timedelta:
        """How long a claim holds without a heartbeat."""
        return timedelta(seconds=self.lease_seconds)

    @property
    def artifact_retention(self) -> timedelta:
        """How long a finished report's file is kept."""
        return timedelta(seconds=self.artifact_retention_seconds)

    @property
    def table_limits(self) -> TableLimits:
        """The inline-table limits these settings impose."""
        return TableLimits(
            max_rows=self.max_rows,
            max_pdf_rows=self.pdf_max_rows,
            max_columns=self.max_columns,
            max_cell_chars=self.max_cell_chars,
        )

    @property
    def uses_hmac(self) -> bool:
        """True when tokens are verified with the shared secret rather than a JWKS."""
        return bool(set(self.jwt_algorithms) & _SYMMETRIC)
