"""The project's one settings object; the only module that reads the environment."""

import json
from functools import cached_property
from typing import Annotated, Any
from urllib.parse import urlsplit

from arq.connections import RedisSettings
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError


class Settings(BaseSettings):
    """Everything the app, the worker and start_dev are configured by (environment variables)."""

    model_config = SettingsConfigDict(env_file=None, extra="ignore", frozen=True)

    redis_url: str = "redis://localhost:6379"
    # Redis Sentinel: the sentinels (host:port, comma-separated or a JSON list) and the master's name. When
    # set, the web pool, the worker's pool and the channel layer find the master through them (REDIS_URL
    # then gives only the database number, and the password if any).
    redis_sentinels: Annotated[list[str], NoDecode] = Field(default_factory=list)
    redis_sentinel_master: str = "mymaster"
    # An enqueue waits (Redis WAIT, within ENQUEUE_TIMEOUT) until this many replicas hold the job.
    redis_min_replicas_ack: int = Field(default=0, ge=0)
    job_time_scale: float = Field(default=1.0, ge=0.0)
    max_content_length: int = Field(default=10_000, ge=1)

    # Web side: every wait on Redis is bounded so a client hears about an outage at once.
    enqueue_timeout: float = Field(default=1.0, gt=0.0)
    # A Redis that accepted a command but never answers is given up on after this long.
    redis_socket_timeout: float = Field(default=10.0, gt=0.0)
    queue_name: str = "arq:queue"
    # A job's outcome normally arrives as a channel-layer event; if it is overdue by this grace,
    # the socket looks up what ARQ stored for it, every interval, until it has it.
    result_recovery_grace: float = Field(default=1.0, ge=0.0)
    result_recovery_interval: float = Field(default=1.0, gt=0.0)
    channel_layer_prefix: str = "asgi"
    # The channel layer's Redis hosts: sockets' channels are spread over them by consistent hashing
    # (fast-channels' sharding), while ARQ's queue stays on REDIS_URL. Comma-separated or a JSON list;
    # empty: REDIS_URL alone.
    channel_layer_urls: Annotated[list[str], NoDecode] = Field(default_factory=list)

    # The speed-ups beneath ARQ's and redis-py's public APIs (src/fastpath/): off, both processes run
    # ARQ's own worker, create_pool-style pools, enqueue_job and poll delay, and only that.
    fast_path: bool = True
    # The tutorial's way, for the benchmark's comparison only: a new Redis pool for every enqueue.
    enqueue_pool_per_job: bool = False

    # ARQ logs two lines per job at INFO; off by default, since they cost the worker on every job.
    worker_log_jobs: bool = False

    # Worker knobs. A lost Redis is retried (backoff capped at 1 s) this many times before the worker exits.
    redis_reconnect_attempts: int = Field(default=300, ge=0)
    worker_max_jobs: int = Field(default=500, ge=1)
    worker_poll_delay: float = Field(default=0.5, gt=0.0)
    job_timeout: float = Field(default=20.0, gt=0.0)
    task_timeouts: dict[str, float] = Field(default_factory=dict)
    keep_result: int = Field(default=3600, ge=0)
    # A running job's progress frames: at most one per job per this many seconds (issue 13).
    progress_interval: float = Field(default=0.25, gt=0.0)
    # On SIGTERM the worker takes no new jobs and lets running ones finish for this long;
    # any still running then are cancelled and go back on the queue for another worker.
    worker_shutdown_grace: int = Field(default=8, ge=0)
    max_tries: int = Field(default=5, ge=1)
    # Each worker's heartbeat (ARQ's health-check key) every this many seconds; /readyz wants a fresh one.
    worker_health_check_interval: float = Field(default=5.0, gt=0.0)
    # The worker's Prometheus metrics on this port (off when unset).
    worker_metrics_port: int | None = Field(default=None, ge=1, le=65535)

    # start_dev / uvicorn.
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)
    log_level: str = "INFO"

    # Hardening (issue 6).
    # Host names requests may be addressed to (the Host header): comma-separated or a JSON list; `*.example.com`
    # for a domain's subdomains, `*` for any (explicitly). Empty: 127.0.0.1, localhost, [::1] and HOST.
    allowed_hosts: Annotated[list[str], NoDecode] = Field(default_factory=list)
    # Browser origins besides the allowed hosts' own that may open the socket: comma-separated or a JSON list.
    allowed_origins: Annotated[list[str], NoDecode] = Field(default_factory=list)
    # Token authentication (off unless one is set): an HS256 secret, or a PEM public key for RS256/ES256.
    auth_jwt_secret: SecretStr | None = None
    auth_jwt_public_key: str | None = None
    # When set, a token must name this audience (`aud`) / issuer (`iss`).
    auth_jwt_audience: str | None = None
    auth_jwt_issuer: str | None = None
    # When set, a token whose `exp` is further away than this many seconds is refused.
    auth_max_token_age: float | None = Field(default=None, gt=0.0)
    # Jobs one socket may have queued whose outcome it has not sent yet; the excess is refused.
    max_jobs_in_flight: int = Field(default=100, ge=1)
    # With authentication on, across all servers (counted in Redis): sockets one user may hold open, and jobs one
    # user may have queued or running; the excess is refused.
    max_sockets_per_user: int = Field(default=20, ge=1)
    max_jobs_per_user: int = Field(default=100, ge=1)
    # Sockets one client address may hold open on each server (off when unset: many users may share an address).
    max_sockets_per_client: int | None = Field(default=None, ge=1)
    # The largest WebSocket frame accepted, in bytes (start_dev passes it to uvicorn; the consumer enforces it too).
    ws_max_size: int = Field(default=65_536, ge=1)

    # Under load (issue 12): a busy server answers later, it does not refuse.
    # Sockets one server holds open; a handshake over it is closed with 1013 (Try Again Later).
    max_connections: int = Field(default=10_000, ge=1)
    # Jobs on ARQ's queue (waiting or running), across all servers; a job over it is refused as "queue full".
    max_queue_depth: int = Field(default=100_000, ge=1)
    # Jobs this server has taken and not yet written to Redis; over it, it stops reading sockets' frames.
    max_enqueue_backlog: int = Field(default=1_000, ge=1)

    # The validators and properties below are thin: each calls a plain function (mutation testing reaches those).

    @field_validator("redis_sentinels", "channel_layer_urls", mode="before")
    @classmethod
    def _list_from_text(cls, value: Any) -> Any:
        """Read a comma-separated or JSON list (of ``host:port``, of Redis URLs)."""
        return list_from_text(value)

    @field_validator("allowed_hosts", mode="before")
    @classmethod
    def _hosts_from_text(cls, value: Any) -> Any:
        return host_patterns(value)

    @field_validator("allowed_origins", mode="before")
    @classmethod
    def _origins_from_text(cls, value: Any) -> Any:
        return origins_from_text(value)

    @field_validator(
        "auth_jwt_secret",
        "auth_jwt_public_key",
        "auth_jwt_audience",
        "auth_jwt_issuer",
        "auth_max_token_age",
        mode="before",
    )
    @classmethod
    def _blank_is_unset(cls, value: Any) -> Any:
        return blank_as_none(value)

    @field_validator("auth_jwt_public_key", mode="after")
    @classmethod
    def _a_public_key(cls, value: str | None) -> str | None:
        return None if value is None else public_key_pem(value)

    @model_validator(mode="after")
    def _one_token_key(self) -> "Settings":
        check_one_token_key(self.auth_jwt_secret, self.auth_jwt_public_key)
        return self

    @property
    def sentinel_hosts(self) -> list[tuple[str, int]]:
        """``REDIS_SENTINELS`` as (host, port) pairs (26379 where a port is not given)."""
        return sentinel_addresses(self.redis_sentinels)

    @property
    def redis_db(self) -> int:
        """The database number ``REDIS_URL`` names (0 when it names none)."""
        return database_number(self.redis_url)

    @property
    def layer_urls(self) -> list[str]:
        """The channel layer's Redis hosts: ``CHANNEL_LAYER_URLS``, or ``REDIS_URL`` alone."""
        return list(self.channel_layer_urls) or [self.redis_url]

    @property
    def trusted_hosts(self) -> list[str]:
        """The hosts requests may name: ``ALLOWED_HOSTS``, or this machine's loopback names and ``HOST``."""
        return hosts_allowed(self.allowed_hosts, self.host)

    @property
    def auth_enabled(self) -> bool:
        """Whether a handshake must carry a valid token."""
        return token_key_set(self.auth_jwt_secret, self.auth_jwt_public_key)

    def timeout_for(self, task_name: str) -> float:
        """Seconds a task may run before it is reported as timed out."""
        return self.task_timeouts.get(task_name, self.job_timeout)

    @cached_property
    def arq_redis(self) -> RedisSettings:
        """ARQ's connection settings for ``redis_url``, failing fast (the web side bounds its waits)."""
        return RedisSettings.from_dsn(self.redis_url)

    @cached_property
    def worker_arq_redis(self) -> RedisSettings:
        """The worker's connection settings: they ride out a Redis restart instead of exiting."""
        return reconnecting_redis_settings(self.redis_url, self.redis_reconnect_attempts)


def reconnecting_redis_settings(redis_url: str, attempts: int) -> RedisSettings:
    """ARQ's connection settings for ``redis_url`` with ``reconnecting_retry(attempts)`` on connection errors."""
    settings = RedisSettings.from_dsn(redis_url)
    settings.retry = reconnecting_retry(attempts)
    settings.retry_on_error = list(RECONNECT_ERRORS)
    return settings


def host_patterns(value: Any) -> Any:
    """``ALLOWED_HOSTS`` read as a list of host names, lower-cased; a wildcard only as ``*`` or ``*.domain``."""
    listed = list_from_text(value)
    if not isinstance(listed, list):
        return listed
    for entry in listed:
        if "*" in entry[1:] or (entry.startswith("*") and entry != "*" and not entry.startswith("*.")):
            raise ValueError(f"{entry!r}: a wildcard host is `*` or like `*.example.com`")
    return [str(entry).lower() for entry in listed]


def origins_from_text(value: Any) -> Any:
    """``ALLOWED_ORIGINS`` read as a list, each entry normalised like a browser's ``Origin``."""
    listed = list_from_text(value)
    if not isinstance(listed, list):
        return listed
    return [normalized_origin(entry) for entry in listed]


def blank_as_none(value: Any) -> Any:
    """An empty variable (``AUTH_JWT_SECRET=``) leaves its setting unset."""
    return None if isinstance(value, str) and not value.strip() else value


def public_key_pem(text: str) -> str:
    """``AUTH_JWT_PUBLIC_KEY`` as a PEM an RSA or EC public key loads from (``\\n`` read as line breaks, as env
    files write them); ValueError at start-up otherwise, rather than a refused handshake each time."""
    pem = text.replace("\\n", "\n").strip() if "\n" not in text else text.strip()
    try:
        key = serialization.load_pem_public_key(pem.encode())
    except ValueError as exc:
        raise ValueError(f"AUTH_JWT_PUBLIC_KEY is not a PEM public key: {exc}") from None
    if not isinstance(key, rsa.RSAPublicKey | ec.EllipticCurvePublicKey):
        raise ValueError("AUTH_JWT_PUBLIC_KEY must be an RSA (RS256) or EC (ES256) public key")
    return pem


def check_one_token_key(secret: SecretStr | None, public_key: str | None) -> None:
    """Tokens are checked with one key: a secret or a public key, not both."""
    if secret is not None and public_key is not None:
        raise ValueError("set AUTH_JWT_SECRET or AUTH_JWT_PUBLIC_KEY, not both")


def token_key_set(secret: SecretStr | None, public_key: str | None) -> bool:
    """Whether a key to check tokens with is set (token authentication is on)."""
    return secret is not None or public_key is not None


def sentinel_addresses(entries: list[str]) -> list[tuple[str, int]]:
    """``host:port`` entries as (host, port) pairs (26379 where a port is not given)."""
    hosts = []
    for entry in entries:
        host, port = entry.rsplit(":", 1) if ":" in entry else (entry, "26379")
        hosts.append((host, int(port)))
    return hosts


def database_number(redis_url: str) -> int:
    """The database number a Redis URL names (0 when it names none)."""
    path = urlsplit(redis_url).path.strip("/")
    return int(path) if path.isdigit() else 0


def hosts_allowed(allowed_hosts: list[str], host: str) -> list[str]:
    """``ALLOWED_HOSTS``, or, when it is empty, this machine's loopback names and ``host`` (``HOST``)."""
    if allowed_hosts:
        return list(allowed_hosts)
    return list(dict.fromkeys([*LOOPBACK_HOSTS, host.lower()]))


RECONNECT_ERRORS = (RedisConnectionError, RedisTimeoutError)

#: The names this machine answers to on its loopback interface (``ALLOWED_HOSTS``' default, with ``HOST``).
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "[::1]")


def list_from_text(value: Any) -> Any:
    """A comma-separated or JSON list as a list of its non-blank entries, stripped (anything else as it is)."""
    if isinstance(value, str):
        value = json.loads(value) if value.lstrip().startswith("[") else value.split(",")
    if not isinstance(value, list):
        return value
    return [str(entry).strip() for entry in value if str(entry).strip()]


#: The port a URL scheme implies when it names none.
DEFAULT_PORTS = {"http": 80, "ws": 80, "https": 443, "wss": 443}


def normalized_origin(origin: str) -> str:
    """``scheme://host[:port]``, lower-cased, without a default port; ValueError if it is not an origin."""
    parts = urlsplit(origin.strip().rstrip("/").lower())
    if parts.scheme not in DEFAULT_PORTS or not parts.hostname or parts.path or parts.query or parts.username:
        raise ValueError(f"{origin!r} is not an origin like https://example.com")
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    port = parts.port
    return (
        f"{parts.scheme}://{host}" if port in (None, DEFAULT_PORTS[parts.scheme]) else f"{parts.scheme}://{host}:{port}"
    )


def reconnecting_retry(attempts: int, *, through_sentinel: bool = False) -> Retry:
    """redis-py retry: exponential backoff from 50 ms, capped at 1 s; ``-1`` attempts means forever.

    ``OSError`` is included so that a refused *re*connect (raised before redis-py wraps it) is
    retried too, not only a command on a connection that broke. Not ``through_sentinel``: there the
    same retry also wraps the connect to the one address the sentinels named, which would retry a
    dead master's address instead of asking them again (the command's retry asks them again).
    """
    errors = RECONNECT_ERRORS if through_sentinel else (*RECONNECT_ERRORS, OSError)
    return Retry(
        ExponentialBackoff(cap=1.0, base=0.05),
        retries=attempts,
        supported_errors=errors,  # type: ignore[arg-type]  # its hint is too narrow
    )


def get_settings() -> Settings:
    """Read the settings from the environment, now."""
    return Settings()
