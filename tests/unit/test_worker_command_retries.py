"""The worker's ARQ connection settings retry a command whose connection broke or timed out, not only reconnect."""

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from src.settings import Settings


def test_the_workers_arq_connection_settings_name_connection_and_timeout_errors_as_retried() -> None:
    """redis-py retries a failed command only for the errors ``retry_on_error`` names, whatever its ``retry`` says."""
    redis_settings = Settings(redis_url="redis://cache.internal:6380/3", redis_reconnect_attempts=4).worker_arq_redis

    assert redis_settings.retry_on_error == [RedisConnectionError, RedisTimeoutError]
    assert (redis_settings.host, redis_settings.port, redis_settings.database) == ("cache.internal", 6380, 3)
