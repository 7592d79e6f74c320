"""When failed webhook deliveries are tried again: exponential, capped, for at least the
horizon; one delay queue per distinct delay; secrets in the Standard Webhooks form."""

import base64
from datetime import UTC, datetime

from standardwebhooks.webhooks import Webhook

from relatoria_shared.domain.webhooks import WebhookSchedule, new_signing_secret
from relatoria_shared.settings import Settings


def test_delays_grow_exponentially_up_to_the_cap() -> None:
    schedule = WebhookSchedule(base_seconds=5, factor=5, cap_seconds=7200, horizon_seconds=86_400)
    assert [schedule.delay_after(a) for a in range(1, 8)] == [5, 25, 125, 625, 3125, 7200, 7200]
    assert schedule.levels() == [5, 25, 125, 625, 3125, 7200]


def test_retries_go_on_until_the_horizon_has_passed() -> None:
    schedule = WebhookSchedule(base_seconds=5, factor=5, cap_seconds=7200, horizon_seconds=86_400)
    assert schedule.next_delay(12, 86_399) == 7200
    assert schedule.next_delay(13, 86_400) is None
    # The defaults keep trying for at least a day, in some twenty attempts.
    default = Settings().webhook_schedule
    elapsed, attempt = 0.0, 1
    while (delay := default.next_delay(attempt, elapsed)) is not None:
        elapsed += delay
        attempt += 1
    assert elapsed >= 86_400
    assert attempt < 25


def test_a_factor_of_one_is_a_single_level() -> None:
    assert WebhookSchedule(base_seconds=2, factor=1, cap_seconds=60).levels() == [2]


def test_new_secrets_are_random_whsec_keys_the_library_signs_with() -> None:
    first, second = new_signing_secret(), new_signing_secret()
    assert first != second
    assert first.startswith("whsec_")
    assert len(base64.b64decode(first.removeprefix("whsec_"))) == 32
    assert Webhook(first).sign("msg_1", datetime.now(UTC), "{}").startswith("v1,")
