"""The project's one settings object; the only module that reads the environment."""

from functools import cached_property

from arq.connections import RedisSettings
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Everything the app, the worker and start_dev are configured by (environment variables)."""

    model_config = SettingsConfigDict(env_file=None, extra="ignore", frozen=True)

    redis_url: str = "redis://localhost:6379"
    job_time_scale: float = Field(default=1.0, ge=0.0)
    max_content_length: int = Field(default=10_000, ge=1)

    # Web side: every wait on Redis is bounded so a client hears about an outage at once.
    enqueue_timeout: float = Field(default=1.0, gt=0.0)
    queue_name: str = "arq:queue"
    channel_layer_prefix: str = "asgi"

    # Worker knobs.
    worker_max_jobs: int = Field(default=50, ge=1)
    worker_poll_delay: float = Field(default=0.05, gt=0.0)
    job_timeout: float = Field(default=20.0, gt=0.0)
    task_timeouts: dict[str, float] = Field(default_factory=dict)
    keep_result: int = Field(default=3600, ge=0)
    max_tries: int = Field(default=5, ge=1)

    # start_dev / uvicorn.
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)
    log_level: str = "INFO"

    def timeout_for(self, task_name: str) -> float:
        """Seconds a task may run before it is reported as timed out."""
        return self.task_timeouts.get(task_name, self.job_timeout)

    @cached_property
    def arq_redis(self) -> RedisSettings:
        """ARQ's connection settings for ``redis_url``."""
        return RedisSettings.from_dsn(self.redis_url)


def get_settings() -> Settings:
    """Read the settings from the environment, now."""
    return Settings()
