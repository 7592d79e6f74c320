"""Fallback when a service is not running locally but a Docker engine is: testcontainers."""

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager


@contextmanager
def started(name: str) -> Iterator[str]:
    """Start `name` (PostgreSQL, Redis or RabbitMQ) in a container; yield its URL."""
    with ExitStack() as stack:
        if name == "PostgreSQL":
            from testcontainers.postgres import PostgresContainer  # noqa: PLC0415

            pg = stack.enter_context(PostgresContainer("postgres:15-alpine", driver="asyncpg"))
            yield pg.get_connection_url()
        elif name == "Redis":
            from testcontainers.redis import RedisContainer  # noqa: PLC0415

            redis = stack.enter_context(RedisContainer("redis:7-alpine"))
            yield f"redis://{redis.get_container_host_ip()}:{redis.get_exposed_port(6379)}/0"
        else:
            from testcontainers.rabbitmq import RabbitMqContainer  # noqa: PLC0415

            rabbit = stack.enter_context(RabbitMqContainer("rabbitmq:3.13-alpine"))
            host, port = rabbit.get_container_host_ip(), rabbit.get_exposed_port(5672)
            yield f"amqp://guest:guest@{host}:{port}/"
