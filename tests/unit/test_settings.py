"""Settings refuse configurations that would weaken token verification."""

import pytest
from pydantic import ValidationError

from relatoria_shared.settings import Settings

pytestmark = pytest.mark.unit


def test_mixing_hmac_and_asymmetric_algorithms_is_refused() -> None:
    with pytest.raises(ValidationError, match="all HMAC"):
        Settings(jwt_algorithms=["HS256", "RS256"], jwt_secret="s")


def test_none_is_not_an_algorithm() -> None:
    with pytest.raises(ValidationError):
        Settings(jwt_algorithms=["none"])


def test_repr_never_prints_secrets() -> None:
    settings = Settings(
        jwt_secret="top-secret-value",
        database_url="postgresql+asyncpg://u:db-password@h/d",
    )
    assert "top-secret-value" not in repr(settings)
    assert "db-password" not in repr(settings)
