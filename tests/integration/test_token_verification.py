"""Bearer token verification: HS256 with a secret, RS256 through a real JWKS endpoint."""

import asyncio
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from relatoria_bff.auth import DEVELOPMENT_SECRET, TokenVerifier
from relatoria_bff.errors import ApiError
from relatoria_bff.jwks import JwksKeys, UnknownSigningKeyError
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


class IdentityProvider:
    """A real JWKS endpoint on loopback whose keys, availability and speed a test sets."""

    def __init__(self) -> None:
        self.keys: dict[str, rsa.RSAPrivateKey] = {}
        self.up = True
        self.delay = 0.0
        self.fetches = 0
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                provider.fetches += 1
                time.sleep(provider.delay)
                if not provider.up:
                    self.send_response(503)
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(provider.document())

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/jwks.json"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def document(self) -> bytes:
        keys = [
            json.loads(RSAAlgorithm.to_jwk(key.public_key())) | {"kid": kid, "alg": "RS256"}
            for kid, key in self.keys.items()
        ]
        return json.dumps({"keys": keys}).encode()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def provider(rsa_key: rsa.RSAPrivateKey) -> Iterator[IdentityProvider]:
    running = IdentityProvider()
    running.keys["k1"] = rsa_key
    yield running
    running.stop()


@pytest.fixture
def jwks_url(provider: IdentityProvider) -> str:
    return provider.url


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


def signed(key: rsa.RSAPrivateKey, kid: str, **overrides: Any) -> str:
    return jwt.encode(claims(**overrides), key, "RS256", headers={"kid": kid})


async def test_a_key_withdrawn_by_the_provider_stops_working_within_the_ttl(
    provider: IdentityProvider, rsa_key: rsa.RSAPrivateKey
) -> None:
    keys = JwksKeys(provider.url, ttl=0.5, refetch_interval=0.1)
    assert await keys.key_for(signed(rsa_key, "k1")) is not None
    del provider.keys["k1"]
    assert await keys.key_for(signed(rsa_key, "k1")) is not None  # the set is still fresh
    await asyncio.sleep(0.6)
    with pytest.raises(UnknownSigningKeyError):
        await keys.key_for(signed(rsa_key, "k1"))


async def test_keys_expire_with_their_set_while_the_provider_is_down(
    provider: IdentityProvider, rsa_key: rsa.RSAPrivateKey
) -> None:
    keys = JwksKeys(provider.url, ttl=0.5, refetch_interval=0.1)
    assert await keys.key_for(signed(rsa_key, "k1")) is not None
    provider.up = False
    await asyncio.sleep(0.6)
    with pytest.raises(UnknownSigningKeyError):  # never trusted forever
        await keys.key_for(signed(rsa_key, "k1"))
    provider.up = True
    await asyncio.sleep(0.1)
    assert await keys.key_for(signed(rsa_key, "k1")) is not None  # back once it is


async def test_a_rotated_in_key_is_fetched_when_a_token_names_it(
    provider: IdentityProvider, rsa_key: rsa.RSAPrivateKey
) -> None:
    keys = JwksKeys(provider.url, refetch_interval=0.2)
    assert await keys.key_for(signed(rsa_key, "k1")) is not None
    newer = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    provider.keys["k2"] = newer
    await asyncio.sleep(0.25)  # fetches start at most once per refetch interval
    found = await keys.key_for(signed(newer, "k2"))
    assert found.public_numbers() == newer.public_key().public_numbers()


async def test_unknown_key_ids_while_the_provider_is_down_are_refused_at_once(
    provider: IdentityProvider, rsa_key: rsa.RSAPrivateKey
) -> None:
    # A fetch times out after 0.5 s; one may start every 1 s.
    keys = JwksKeys(provider.url, timeout=0.5, refetch_interval=1.0)
    settings = Settings(jwt_algorithms=["RS256"], jwt_jwks_url=provider.url)
    verifier = TokenVerifier(settings, jwks=keys)
    assert await verifier.owner_of(signed(rsa_key, "k1")) == "alice"
    provider.up, provider.delay = False, 2.0  # down, and slow to say so
    await asyncio.sleep(1.05)  # past the refetch interval: the burst may start a fetch
    fetches = provider.fetches
    forged = [signed(rsa_key, f"made-up-{i}", sub=f"u{i}") for i in range(200)]

    started = time.monotonic()
    refusals = await asyncio.gather(*(rejected(verifier, token) for token in forged))

    # One fetch was tried (the provider may have rotated its keys), bounded by the fetch
    # timeout; every other request was refused without waiting for one of its own.
    assert provider.fetches - fetches == 1
    assert time.monotonic() - started < 1.5
    assert {r.message for r in refusals} == {"invalid token: the token's signing key is not known"}
    started = time.monotonic()
    await rejected(verifier, signed(rsa_key, "made-up-again"))
    assert time.monotonic() - started < 0.2  # within the refetch interval: no fetch at all
    assert await verifier.owner_of(signed(rsa_key, "k1", sub="still")) == "still"


async def test_refusals_say_what_was_wrong_in_words_of_ours(hs_verifier: TokenVerifier) -> None:
    cases = {
        jwt.encode(claims(exp=int(time.time()) - 3600), SECRET, "HS256"): "has expired",
        jwt.encode(claims(aud="other"), SECRET, "HS256"): "not meant for this service",
        jwt.encode(claims(iss="evil"), SECRET, "HS256"): "not issued by the expected issuer",
        jwt.encode(claims(sub=None), SECRET, "HS256"): "lacks a required claim",
        jwt.encode(claims(), "another-secret-of-decent-length!!", "HS256"): "does not verify",
        "not.a.token": "not a well-formed JWT",
    }
    for token, words in cases.items():
        refusal = await rejected(hs_verifier, token)
        assert words in refusal.message, (refusal.message, words)


@pytest.mark.parametrize(
    ("secret", "allowed", "refused"),
    [
        ("s" * 31, False, "at least 32 bytes"),
        (DEVELOPMENT_SECRET, False, "public development secret"),
        (DEVELOPMENT_SECRET, True, None),
        ("s" * 32, False, None),
    ],
)
def test_weak_or_public_secrets_are_refused_at_start_up(
    secret: str, allowed: bool, refused: str | None
) -> None:
    settings = Settings(jwt_secret=secret, jwt_allow_development_secret=allowed)
    if refused is None:
        TokenVerifier(settings)
        return
    with pytest.raises(ValueError, match=refused):
        TokenVerifier(settings)
    with pytest.raises(ValueError, match=refused):  # a previous secret too
        TokenVerifier(Settings(jwt_secret="s" * 40, jwt_previous_secret=secret))


async def test_requests_during_a_fetch_wait_for_it_at_start_and_at_expiry(
    provider: IdentityProvider, rsa_key: rsa.RSAPrivateKey
) -> None:
    keys = JwksKeys(provider.url, ttl=1.0, refetch_interval=0.1)
    provider.delay = 0.3  # a fetch takes a while: requests arrive during it
    token = signed(rsa_key, "k1")
    first = await asyncio.gather(*(keys.key_for(token) for _ in range(5)))
    assert all(key is not None for key in first)
    fetches = provider.fetches
    await asyncio.sleep(1.1)  # the set has expired
    again = await asyncio.gather(*(keys.key_for(token) for _ in range(5)))
    assert all(key is not None for key in again)
    assert provider.fetches - fetches == 1  # one fetch served them all
