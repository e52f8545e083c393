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

#: The names this machine answers to on its loopback interface (``ALLOWED_HOSTS``' default, with ``HOST``).
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "[::1]")

# The headings docs/settings.md lists the settings under (``make settings-doc``): each field names its own
# ``group``, and a list that stands for something else when empty says what (``fallback``).
_REDIS = "Redis"
_JOBS = "Jobs"
_FAST_PATH = "The fast path"
_WORKER = "The worker"
_WEB_SIDE = "The web side: waits and limits"
_WHO_MAY_CONNECT = "Who may connect"
_SERVING = "start_dev and logging"


class Settings(BaseSettings):
    """Everything the app, the worker and start_dev are configured by (environment variables)."""

    model_config = SettingsConfigDict(env_file=None, extra="ignore", frozen=True)

    redis_url: str = Field(
        default="redis://localhost:6379",
        description="Redis for the queue and the channel layer (`/N` picks a database)",
        json_schema_extra={"group": _REDIS},
    )
    redis_sentinels: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Redis Sentinel: `host:port` of each sentinel (26379 where no port is given); when set, the web"
        " pool, the worker's pool and the channel layer find the master through them, `REDIS_URL` gives only the"
        ' database number (and the password, if any), and the fast path stays off (see "Deploy" in docs/operating.md)',
        json_schema_extra={"group": _REDIS},
    )
    redis_sentinel_master: str = Field(
        default="mymaster",
        description="the name the sentinels monitor the master under",
        json_schema_extra={"group": _REDIS},
    )
    redis_min_replicas_ack: int = Field(
        default=0,
        ge=0,
        description="an enqueue waits (Redis `WAIT`, within half of `ENQUEUE_TIMEOUT`) until this many replicas hold"
        " the job before the client is told `queued`; if they do not in time, the job is taken back and the client"
        " gets an error (the fast path stays off when this is set)",
        json_schema_extra={"group": _REDIS},
    )
    queue_name: str = Field(
        default="arq:queue",
        description="ARQ's queue (its Redis key); the keys and channels beside it are named after it"
        " (`<QUEUE_NAME>:health-check`, `<QUEUE_NAME>:ownership-key`, `<QUEUE_NAME>:wake`, ...)",
        json_schema_extra={"group": _REDIS},
    )
    channel_layer_prefix: str = Field(
        default="asgi",
        description="prefix of the channel layer's Redis channels",
        json_schema_extra={"group": _REDIS},
    )
    channel_layer_urls: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="the channel layer's Redis hosts: sockets' channels are spread over them by fast-channels'"
        ' consistent hash, and every server and worker must list them in the same order (see "Deploy" in'
        " docs/operating.md); ARQ's queue stays on `REDIS_URL`",
        json_schema_extra={"group": _REDIS, "fallback": "`REDIS_URL` alone"},
    )

    job_time_scale: float = Field(
        default=1.0,
        ge=0.0,
        description="multiplies the simulated durations (the seed's: 1 s, translate 2 s, analyze 3 s, generate 4 s);"
        " `0` means no simulated work",
        json_schema_extra={"group": _JOBS},
    )
    max_content_length: int = Field(
        default=10_000,
        ge=1,
        description="longest `content` accepted, in characters",
        json_schema_extra={"group": _JOBS},
    )
    job_timeout: float = Field(
        default=20.0,
        gt=0.0,
        description="seconds a task may run before it is reported as timed out",
        json_schema_extra={"group": _JOBS},
    )
    task_timeouts: dict[str, float] = Field(
        default_factory=dict,
        description='per-task overrides of `JOB_TIMEOUT`, a JSON object: `{"generate": 5}`',
        json_schema_extra={"group": _JOBS},
    )
    max_tries: int = Field(
        default=5,
        ge=1,
        description="runs of a job before ARQ gives up (a killed worker's job is re-run)",
        json_schema_extra={"group": _JOBS},
    )
    keep_result: int = Field(
        default=3600,
        ge=0,
        description="seconds ARQ keeps a job's result (and this project a job's latest progress)",
        json_schema_extra={"group": _JOBS},
    )
    progress_interval: float = Field(
        default=0.25,
        gt=0.0,
        description="at most one `progress` frame per job per this many seconds; the simulated work reports every"
        " this + 50 ms (so that frames never reach a socket closer together than this); at or under 0.45 it keeps"
        " to at least one frame per 0.5 s of work",
        json_schema_extra={"group": _JOBS},
    )

    fast_path: bool = Field(
        default=True,
        description="the speed-ups of `src/fastpath/`, beneath ARQ's and redis-py's public APIs (see"
        " docs/fast-path.md); `false`: both processes run ARQ's own worker, `create_pool`-style pools, `enqueue_job`"
        " and poll delay, and only that: the same protocol, slower",
        json_schema_extra={"group": _FAST_PATH},
    )
    worker_max_jobs: int = Field(
        default=500,
        ge=1,
        description="jobs one worker runs at once",
        json_schema_extra={"group": _WORKER},
    )
    worker_poll_delay: float = Field(
        default=0.5,
        gt=0.0,
        description="ARQ's poll delay with `FAST_PATH=false`; with the fast path, how long an idle worker waits for a"
        " wake-up before polling anyway",
        json_schema_extra={"group": _WORKER},
    )
    worker_log_jobs: bool = Field(
        default=False,
        description="ARQ's two log lines per job, at INFO (off: they cost the worker on every job)",
        json_schema_extra={"group": _WORKER},
    )
    redis_reconnect_attempts: int = Field(
        default=300,
        ge=0,
        description="the worker's reconnect attempts to a lost Redis (backoff capped at 1 s) before it exits,"
        " non-zero (ARQ's farewell write at shutdown, deleting its health-check key, retries as many times again,"
        " so about twice the backoff passes)",
        json_schema_extra={"group": _WORKER},
    )
    worker_shutdown_grace: int = Field(
        default=8,
        ge=0,
        description="on SIGTERM the worker takes no new jobs and lets running ones finish for this many seconds;"
        " any still running then are cancelled and go back on the queue for another worker",
        json_schema_extra={"group": _WORKER},
    )
    worker_health_check_interval: float = Field(
        default=5.0,
        gt=0.0,
        description="seconds between a worker's heartbeats (ARQ's health-check key), which `/readyz` looks for",
        json_schema_extra={"group": _WORKER},
    )
    worker_metrics_port: int | None = Field(
        default=None,
        ge=1,
        le=65535,
        description="the port each worker serves its Prometheus metrics on (`/metrics`); unset: none",
        json_schema_extra={"group": _WORKER},
    )

    enqueue_timeout: float = Field(
        default=1.0,
        gt=0.0,
        description="seconds Redis may take to answer the web side (enqueue, handshake check, lookup, cancel), so"
        ' that a client hears of an outage at once; counted in time the server was free to hear it (see "Under'
        ' load" in docs/operating.md)',
        json_schema_extra={"group": _WEB_SIDE},
    )
    redis_socket_timeout: float = Field(
        default=10.0,
        gt=0.0,
        description="seconds the web side waits for a Redis that accepted a command but does not answer",
        json_schema_extra={"group": _WEB_SIDE},
    )
    result_recovery_grace: float = Field(
        default=1.0,
        ge=0.0,
        description="a job's outcome normally arrives as a channel-layer event; once it is overdue by this many"
        ' seconds, the socket looks up what ARQ stored for it (see "Healing without a human" in docs/operating.md)',
        json_schema_extra={"group": _WEB_SIDE},
    )
    result_recovery_interval: float = Field(
        default=1.0,
        gt=0.0,
        description="seconds between those lookups of an overdue outcome, until the socket has it",
        json_schema_extra={"group": _WEB_SIDE},
    )
    max_jobs_in_flight: int = Field(
        default=100,
        ge=1,
        description="jobs one socket may have queued and not yet answered with their outcome; the excess is refused",
        json_schema_extra={"group": _WEB_SIDE},
    )
    max_watches: int = Field(
        default=100,
        ge=0,
        description="jobs one socket may watch at once (`job_watch`); one more gets an `error` frame",
        json_schema_extra={"group": _WEB_SIDE},
    )
    ws_max_size: int = Field(
        default=65_536,
        ge=1,
        description="the largest WebSocket frame accepted, in bytes (uvicorn's `--ws-max-size` in `start_dev`, and"
        " the consumer's own check); a larger one closes its socket with 1009",
        json_schema_extra={"group": _WEB_SIDE},
    )
    # Under load (issue 12): a busy server answers later, it does not refuse; these are bounds, not load shedding.
    max_connections: int = Field(
        default=10_000,
        ge=1,
        description="sockets one server holds open; a handshake over it is closed with 1013 (Try Again Later)",
        json_schema_extra={"group": _WEB_SIDE},
    )
    max_queue_depth: int = Field(
        default=100_000,
        ge=1,
        description="jobs on ARQ's queue (waiting or running), across all servers; a job over it is refused as"
        ' "queue full" (with the fast path each server learns the depth from its writes, so the queue may go over'
        " by a batch per server)",
        json_schema_extra={"group": _WEB_SIDE},
    )
    max_enqueue_backlog: int = Field(
        default=1_000,
        ge=1,
        description="jobs one server has taken and not yet written to Redis; over it, it stops reading sockets'"
        " frames until the backlog drains",
        json_schema_extra={"group": _WEB_SIDE},
    )

    allowed_hosts: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="host names requests may name in their `Host` header (`*.example.com` for a domain's"
        " subdomains, `*` for any, explicitly); others get 400 (a handshake 403)",
        json_schema_extra={
            "group": _WHO_MAY_CONNECT,
            "fallback": ", ".join(map("`{}`".format, LOOPBACK_HOSTS)) + " and `HOST`",
        },
    )
    allowed_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="browser origins besides the allowed hosts' own that may open the socket:"
        " `https://a.example,http://localhost:3000`",
        json_schema_extra={"group": _WHO_MAY_CONNECT},
    )
    auth_jwt_secret: SecretStr | None = Field(
        default=None,
        description="turns token authentication on: the HS256 secret a handshake's JWT must be signed with (32 bytes"
        " or more; a shorter one is warned of at start-up)",
        json_schema_extra={"group": _WHO_MAY_CONNECT},
    )
    auth_jwt_public_key: str | None = Field(
        default=None,
        description="turns token authentication on with a public key instead: a PEM public key (RSA for RS256, EC"
        " for ES256; `\\n` may stand for its line breaks), checked at start-up; not both with `AUTH_JWT_SECRET`",
        json_schema_extra={"group": _WHO_MAY_CONNECT},
    )
    auth_jwt_audience: str | None = Field(
        default=None,
        description="when set, a token's `aud` must be this",
        json_schema_extra={"group": _WHO_MAY_CONNECT},
    )
    auth_jwt_issuer: str | None = Field(
        default=None,
        description="when set, a token's `iss` must be this",
        json_schema_extra={"group": _WHO_MAY_CONNECT},
    )
    auth_max_token_age: float | None = Field(
        default=None,
        gt=0.0,
        description="when set, seconds: a token whose `exp` is further away than this is refused",
        json_schema_extra={"group": _WHO_MAY_CONNECT},
    )
    max_sockets_per_user: int = Field(
        default=20,
        ge=1,
        description="with authentication on: sockets one user may hold open across all servers (counted in Redis);"
        " a handshake over it is closed with 1013",
        json_schema_extra={"group": _WHO_MAY_CONNECT},
    )
    max_jobs_per_user: int = Field(
        default=100,
        ge=1,
        description="with authentication on: jobs one user may have queued or running across all servers (counted"
        " in Redis); the excess is refused",
        json_schema_extra={"group": _WHO_MAY_CONNECT},
    )
    max_sockets_per_client: int | None = Field(
        default=None,
        ge=1,
        description="sockets one client address may hold open on each server (behind a proxy, the address"
        " uvicorn's `--forwarded-allow-ips` trusts it to name); a handshake over it is closed with 1013; unset: off,"
        " since many users may share an address",
        json_schema_extra={"group": _WHO_MAY_CONNECT},
    )

    host: str = Field(
        default="127.0.0.1",
        description="the address `start_dev` serves on; with `ALLOWED_HOSTS` empty, a host name requests may name",
        json_schema_extra={"group": _SERVING},
    )
    port: int = Field(
        default=8000,
        ge=0,
        le=65535,
        description="the port `start_dev` serves on",
        json_schema_extra={"group": _SERVING},
    )
    log_level: str = Field(
        default="INFO",
        description="level of the project's and fast-channels' loggers, and of chanx's at WARNING or above (its"
        " one INFO line, per socket closed, shows at DEBUG)",
        json_schema_extra={"group": _SERVING},
    )

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
