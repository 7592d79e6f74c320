"""FastAPI dependencies shared by the routers."""

from typing import Annotated

from fastapi import Depends, Request

from relatoria_bff.bootstrap import Resources


def get_resources(request: Request) -> Resources:
    """The process's resources, built by the app's lifespan."""
    resources: Resources = request.app.state.resources
    return resources


Deps = Annotated[Resources, Depends(get_resources)]
