"""The identity provider's signing keys (a JWKS document), fetched and kept for a bounded time.

- Keys expire with the key set: a set older than `ttl` is fetched again before use, and if
  it cannot be, its keys are no longer trusted (a key withdrawn at the provider stops
  working within `ttl`, even while the provider is unreachable).
- One fetch at a time, bounded by `timeout`, started ahead of expiry (at 80% of the TTL)
  while the keys held still serve; a request that needs the fetch (its key id unknown,
  or the set expired) waits for the one under way, never starts its own.
- A token naming a key the set does not hold may mean the provider rotated its keys, so
  the set is fetched again. Fetches start at most once per `refetch_interval`: a stream of
  tokens with made-up key ids, or requests arriving while the provider is down, are
  refused at once instead of each waiting on (and tying up a thread for) a fetch.

PyJWT parses the set and the keys; fetching runs in a thread (it blocks).
"""

import asyncio
import json
import time
import urllib.error
import urllib.request
from typing import Any

import jwt

REFRESH_AT = 0.8
"""Share of the TTL after which the set is fetched again, in the background."""


class UnknownSigningKeyError(Exception):
    """No trusted key matches the token: its key id is unknown, or the set could not be
    fetched (the message says which, for the logs; callers answer a plain 401)."""


class JwksKeys:
    """The signing keys of one JWKS URL."""

    def __init__(
        self, url: str, *, ttl: float = 300.0, timeout: float = 3.0, refetch_interval: float = 30.0
    ) -> None:
        if not url.startswith(("https://", "http://")):
            raise ValueError("RELATORIA_JWT_JWKS_URL must be an http(s) URL")
        self._url = url
        self._ttl = ttl
        self._timeout = timeout
        self._refetch_interval = refetch_interval
        self._keys: dict[str, Any] = {}
        self._fetched_at = float("-inf")  # when the keys held were fetched
        self._tried_at = float("-inf")  # when a fetch last started, whatever came of it
        self._fetching: asyncio.Future[None] | None = None

    async def key_for(self, token: str) -> Any:
        """The key that should have signed `token` (by its `kid`); raises
        `UnknownSigningKeyError` if no trusted key matches, `jwt.DecodeError` if the token's
        header cannot be read."""
        kid = jwt.get_unverified_header(token).get("kid")
        if not isinstance(kid, str):
            raise UnknownSigningKeyError("the token names no key id")
        now = time.monotonic()
        age = now - self._fetched_at
        wanted = age >= self._ttl or kid not in self._keys
        may_fetch = now - self._tried_at >= self._refetch_interval
        if self._fetching is None and may_fetch and (wanted or age >= self._ttl * REFRESH_AT):
            self._start_fetch()  # ahead of expiry, the keys held still serve meanwhile
        if wanted and self._fetching is not None:
            # Shielded: one waiter cancelled (its client gone) cancels no one else's wait.
            await asyncio.shield(self._fetching)
        if time.monotonic() - self._fetched_at >= self._ttl:
            self._keys = {}  # expired with their set, which could not be fetched again
            raise UnknownSigningKeyError("the signing keys could not be fetched")
        try:
            return self._keys[kid]
        except KeyError:
            raise UnknownSigningKeyError(f"no signing key {kid!r}") from None

    def _start_fetch(self) -> None:
        self._tried_at = time.monotonic()
        self._fetching = asyncio.ensure_future(self._fetch())
        self._fetching.add_done_callback(self._fetched)

    def _fetched(self, _: "asyncio.Future[None]") -> None:
        self._fetching = None

    async def _fetch(self) -> None:
        try:
            keys = await asyncio.wait_for(asyncio.to_thread(self._download), self._timeout)
        except Exception:  # unreachable, slow, or not a key set: keep what was held
            return
        self._keys = keys
        self._fetched_at = time.monotonic()

    def _download(self) -> dict[str, Any]:
        # The URL is http(s): checked in __init__.
        request = urllib.request.Request(self._url, headers={"User-Agent": "relatoria"})  # noqa: S310
        try:
            with urllib.request.urlopen(request, timeout=self._timeout) as response:  # noqa: S310
                document = json.load(response)
        except urllib.error.HTTPError as refused:
            refused.close()  # it holds the connection open otherwise
            raise
        keys = jwt.PyJWKSet.from_dict(document).keys
        return {key.key_id: key.key for key in keys if key.key_id is not None}
