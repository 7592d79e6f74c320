"""Bearer token verification: HS256 with a secret, RS256 through a real JWKS endpoint."""

import asyncio
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from relatoria_bff.auth import TokenVerifier
from relatoria_bff.errors import ApiError
from relatoria_shared.settings import Settings

pytestmark = pytest.mark.integration

SECRET = "a-development-secret-of-decent-length"


def claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    base = {"sub": "alice", "iss": "relatoria", "aud": "relatoria", "iat": now, "exp": now + 60}
    return {k: v for k, v in (base | overrides).items() if v is not None}


async def rejected(verifier: TokenVerifier, token: str) -> ApiError:
    with pytest.raises(ApiError) as caught:
        await verifier.owner_of(token)
    assert caught.value.status_code == 401
    return caught.value


@pytest.fixture
def hs_verifier() -> TokenVerifier:
    return TokenVerifier(Settings(jwt_secret=SECRET))


async def test_hs256_token_gives_its_subject(hs_verifier: TokenVerifier) -> None:
    assert await hs_verifier.owner_of(jwt.encode(claims(), SECRET, "HS256")) == "alice"


@pytest.mark.parametrize(
    "bad",
    [
        {"exp": int(time.time()) - 3600},
        {"aud": "someone-else"},
        {"iss": "evil"},
        {"exp": None},
        {"sub": None},
        {"aud": None},
    ],
)
async def test_hs256_claims_are_required_and_checked(
    hs_verifier: TokenVerifier, bad: dict[str, Any]
) -> None:
    await rejected(hs_verifier, jwt.encode(claims(**bad), SECRET, "HS256"))


async def test_wrong_secret_and_alg_none_are_refused(hs_verifier: TokenVerifier) -> None:
    await rejected(hs_verifier, jwt.encode(claims(), "another-secret-of-decent-length!!", "HS256"))
    await rejected(hs_verifier, jwt.encode(claims(), None, "none"))  # type: ignore[arg-type]
    await rejected(hs_verifier, "not.a.token")


async def test_a_rotation_accepts_both_secrets_until_the_previous_one_is_dropped() -> None:
    new = "the-new-secret-that-is-long-enough-for-hs256"
    stranger = "a-secret-nobody-configured-for-this-service"
    rotating = TokenVerifier(Settings(jwt_secret=new, jwt_previous_secret=SECRET))
    assert await rotating.owner_of(jwt.encode(claims(), new, "HS256")) == "alice"
    assert await rotating.owner_of(jwt.encode(claims(), SECRET, "HS256")) == "alice"
    await rejected(rotating, jwt.encode(claims(), stranger, "HS256"))
    # A token signed with the previous secret must still pass every other check.
    await rejected(rotating, jwt.encode(claims(iss="evil"), SECRET, "HS256"))
    rotated = TokenVerifier(Settings(jwt_secret=new))
    await rejected(rotated, jwt.encode(claims(), SECRET, "HS256"))


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def jwks_url(rsa_key: rsa.RSAPrivateKey) -> Iterator[str]:
    jwk = json.loads(RSAAlgorithm.to_jwk(rsa_key.public_key()))
    body = json.dumps({"keys": [jwk | {"kid": "k1", "use": "sig", "alg": "RS256"}]}).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/jwks.json"
    server.shutdown()
    server.server_close()


@pytest.fixture
def rs_verifier(jwks_url: str) -> TokenVerifier:
    return TokenVerifier(Settings(jwt_algorithms=["RS256"], jwt_jwks_url=jwks_url))


async def test_rs256_token_verified_through_jwks(
    rs_verifier: TokenVerifier, rsa_key: rsa.RSAPrivateKey
) -> None:
    token = jwt.encode(claims(sub="bob"), rsa_key, "RS256", headers={"kid": "k1"})
    assert await rs_verifier.owner_of(token) == "bob"


async def test_hs256_token_signed_with_the_rs_public_key_is_refused(
    rs_verifier: TokenVerifier, rsa_key: rsa.RSAPrivateKey
) -> None:
    public_pem = rsa_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    # The classic confusion attack: HMAC keyed with the public key the verifier trusts.
    forged = jwt.api_jws.PyJWS()
    forged._algorithms["HS256"].prepare_key = lambda key: key  # type: ignore[method-assign]
    token = forged.encode(json.dumps(claims()).encode(), public_pem, "HS256", headers={"kid": "k1"})
    await rejected(rs_verifier, token)


async def test_rs256_token_from_another_key_or_expired_is_refused(
    rs_verifier: TokenVerifier, rsa_key: rsa.RSAPrivateKey
) -> None:
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    await rejected(rs_verifier, jwt.encode(claims(), stranger, "RS256", headers={"kid": "k1"}))
    expired = claims(exp=int(time.time()) - 3600)
    await rejected(rs_verifier, jwt.encode(expired, rsa_key, "RS256", headers={"kid": "k1"}))
    await rejected(rs_verifier, jwt.encode(claims(), None, "none", headers={"kid": "k1"}))  # type: ignore[arg-type]


async def test_a_remembered_token_still_ends_at_its_expiry() -> None:
    verifier = TokenVerifier(Settings(jwt_secret=SECRET, jwt_leeway_seconds=0))
    token = jwt.encode(claims(exp=int(time.time()) + 2), SECRET, "HS256")
    assert await verifier.owner_of(token) == "alice"
    assert await verifier.owner_of(token) == "alice"  # remembered
    await asyncio.sleep(2.1)
    await rejected(verifier, token)


async def test_a_refused_token_is_never_remembered(hs_verifier: TokenVerifier) -> None:
    forged = jwt.encode(claims(), "another-secret-of-decent-length!!", "HS256")
    await rejected(hs_verifier, forged)
    await rejected(hs_verifier, forged)


async def test_a_verified_token_is_not_verified_again(
    hs_verifier: TokenVerifier, monkeypatch: pytest.MonkeyPatch
) -> None:
    token = jwt.encode(claims(), SECRET, "HS256")
    assert await hs_verifier.owner_of(token) == "alice"

    def no_second_verification(*_: Any, **__: Any) -> dict[str, Any]:
        raise AssertionError("a remembered token was verified again")

    monkeypatch.setattr(jwt, "decode", no_second_verification)
    assert await hs_verifier.owner_of(token) == "alice"
