"""AWS Lambda entry point: the same BFF app behind API Gateway, through Mangum.

Cold start: importing this module connects to nothing. The first invocation of a fresh
process builds the app (settings, logging); the first request that needs PostgreSQL,
RabbitMQ or Redis opens those connections, and every later invocation served by the same
warm process reuses them. Mangum's lifespan is off: with it on, each invocation would run
the app's start-up and shutdown, opening and closing every connection per request.

Deploy with the handler `relatoria_bff.lambda_handler.handler` (docs/deploy.md).
"""

import asyncio
from functools import cache
from typing import Any

from mangum import Mangum

from relatoria_bff.app import create_app
from relatoria_bff.bootstrap import ResourcesOnDemand
from relatoria_shared.logging_setup import configure_logging
from relatoria_shared.settings import Settings
from relatoria_shared.tracing import configure_tracing


class LambdaHandler:
    """One Lambda process's BFF: an app, its event loop, and connections kept warm."""

    def __init__(self, settings: Settings) -> None:
        self.app = create_app(settings, streams=False)  # API Gateway cannot stream
        # The connections belong to one event loop, so every invocation runs on this one,
        # whichever thread the runtime calls from.
        self._loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self._loop)
        self._adapter = Mangum(self.app, lifespan="off")

    @property
    def resources(self) -> ResourcesOnDemand:
        """The app's resources, opened by the first request that needs them."""
        on_demand: ResourcesOnDemand = self.app.state.resources
        return on_demand

    def __call__(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        """Serve one API Gateway (REST or HTTP API) or ALB event."""
        asyncio.set_event_loop(self._loop)
        return self._adapter(event, context)

    def close(self) -> None:
        """Close the connections and the loop (Lambda itself never calls this)."""
        self._loop.run_until_complete(self.resources.aclose())
        self._loop.close()


@cache
def _process_handler() -> LambdaHandler:
    settings = Settings()
    configure_logging("bff", settings.log_level, settings.log_format)
    # Batched spans leave with later invocations; a frozen process exports none meanwhile.
    configure_tracing("bff", settings)
    return LambdaHandler(settings)


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """The Lambda function's handler: built on the first invocation, reused after."""
    return _process_handler()(event, context)
