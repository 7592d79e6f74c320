"""`relatoria-bff`: serve the API with uvicorn."""

import uvicorn
from fastapi import FastAPI

from relatoria_bff.app import create_app
from relatoria_bff.http_protocol import LoggedHttpProtocol
from relatoria_shared.logging_setup import configure_logging
from relatoria_shared.settings import Settings
from relatoria_shared.tracing import configure_tracing


def server_config(app: FastAPI, settings: Settings) -> uvicorn.Config:
    """How uvicorn serves the BFF: one place for the process and for the tests that serve
    it in their own process."""
    return uvicorn.Config(
        app,
        host=settings.bff_host,
        port=settings.bff_port,
        log_config=None,
        # RequestTelemetry logs each request already; uvicorn's own access line would
        # format its fields on every response even when its level drops it.
        access_log=False,
        proxy_headers=True,
        forwarded_allow_ips=settings.forwarded_allow_ips,
        timeout_graceful_shutdown=20,
        # Longer than clients' and proxies' idle timeouts: they close first, never
        # racing a request onto a connection the server is closing (see http_protocol).
        timeout_keep_alive=settings.bff_keep_alive_seconds,
        http=LoggedHttpProtocol,
    )


def main() -> None:
    """Run one BFF process on the configured host and port."""
    settings = Settings()
    configure_logging("bff", settings.log_level, settings.log_format)
    tracing = configure_tracing("bff", settings)
    try:
        uvicorn.Server(server_config(create_app(settings), settings)).run()
    finally:
        tracing.shutdown()  # export the spans still batched


if __name__ == "__main__":
    main()
