"""FastAPI dependencies shared by the routers."""

from typing import Annotated

from fastapi import Depends, Request

from relatoria_bff.bootstrap import Resources


async def get_resources(request: Request) -> Resources:
    """The process's resources, built by the app's lifespan.

    Async on purpose: FastAPI runs sync dependencies in a thread pool, a hop per request.
    """
    resources: Resources = request.app.state.resources
    return resources


Deps = Annotated[Resources, Depends(get_resources)]
