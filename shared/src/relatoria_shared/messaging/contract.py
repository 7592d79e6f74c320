"""The job message: small, versioned JSON naming the request and the attempt.

The request itself lives in PostgreSQL; a message only says "look at this one".
"""

import json
import uuid
from dataclasses import dataclass

CONTENT_TYPE = "application/json"


class MalformedMessage(ValueError):  # noqa: N818 - names what the message is
    """A message body that is not a job message; it can never be processed."""


@dataclass(frozen=True)
class JobMessage:
    """Work for one report request."""

    request_id: uuid.UUID
    attempt: int = 0

    def encode(self) -> bytes:
        """The wire form."""
        return json.dumps(
            {"v": 1, "requestId": str(self.request_id), "attempt": self.attempt}
        ).encode()

    @classmethod
    def decode(cls, body: bytes) -> "JobMessage":
        """Parse the wire form, raising `MalformedMessage` if it is not one."""
        try:
            data = json.loads(body)
            return cls(request_id=uuid.UUID(data["requestId"]), attempt=int(data.get("attempt", 0)))
        except (ValueError, KeyError, TypeError) as exc:
            raise MalformedMessage(f"not a job message: {exc}") from None
