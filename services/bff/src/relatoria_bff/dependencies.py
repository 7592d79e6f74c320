"""FastAPI dependencies shared by the routers."""

from typing import Annotated

from fastapi import Depends, Request

from relatoria_bff.auth import unauthorized
from relatoria_bff.bootstrap import Resources, ResourcesOnDemand
from relatoria_shared.logging_setup import bind_log_context


async def get_resources(request: Request) -> Resources:
    """The process's resources, opened at start-up (or by the first request, on Lambda).

    Async on purpose: FastAPI runs sync dependencies in a thread pool, a hop per request.
    """
    on_demand: ResourcesOnDemand = request.app.state.resources
    return await on_demand.get()


Deps = Annotated[Resources, Depends(get_resources)]


async def current_owner(request: Request, resources: Deps) -> str:
    """The caller's owner id from `Authorization: Bearer …`."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise unauthorized("a bearer token is required")
    owner = await resources.verifier.owner_of(token.strip())
    bind_log_context(owner_id=owner)
    return owner


Owner = Annotated[str, Depends(current_owner)]
"""The verified caller of a route."""
