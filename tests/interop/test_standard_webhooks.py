"""Standard Webhooks against the spec's own library (``standardwebhooks``) and Svix's (``svix``), both ways.

Reference: https://github.com/standard-webhooks/standard-webhooks/blob/main/spec/standard-webhooks.md
and https://docs.svix.com/receiving/verifying-payloads/how-manual
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest
from standardwebhooks.webhooks import Webhook as StandardWebhook
from svix.webhooks import Webhook as SvixWebhook
from svix.webhooks import WebhookVerificationError

from asgi_guard.webhooks import StandardWebhooks, sign_standard
from tests.interop.helpers import deliver

pytestmark = pytest.mark.anyio

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"  # the spec's example secret
BODY = b'{"type":"user.created","timestamp":"2022-11-03T20:26:10.344522Z","data":{"id":"u_1"}}'


def _now() -> datetime:
    return datetime.fromtimestamp(int(time.time()), tz=UTC)


@pytest.mark.parametrize("library", [StandardWebhook, SvixWebhook], ids=["standardwebhooks", "svix"])
async def test_library_signature_with_webhook_names_is_accepted(library: type) -> None:
    """A signature made by either library, sent under the spec's webhook-* names, verifies with us."""
    now = _now()
    signature = library(SECRET).sign("msg_1", now, BODY.decode())
    headers = {"webhook-id": "msg_1", "webhook-timestamp": str(int(now.timestamp())), "webhook-signature": signature}
    status, app = await deliver(StandardWebhooks(secrets=[SECRET]), headers, BODY)
    assert (status, app.bodies) == (200, [BODY])


async def test_svix_signature_with_svix_names_is_accepted() -> None:
    """Issue 18: a delivery as Svix sends it (svix-id, svix-timestamp, svix-signature) verifies."""
    now = _now()
    signature = SvixWebhook(SECRET).sign("msg_2", now, BODY.decode())
    headers = {"svix-id": "msg_2", "svix-timestamp": str(int(now.timestamp())), "svix-signature": signature}
    status, app = await deliver(StandardWebhooks(secrets=[SECRET]), headers, BODY)
    assert (status, app.bodies) == (200, [BODY])
    assert app.webhooks[0].message_id == "msg_2"


async def test_our_signature_is_accepted_by_both_libraries() -> None:
    """``sign_standard``'s headers verify with both libraries, under either family of names."""
    headers = sign_standard(SECRET, BODY, message_id="msg_3", timestamp=int(time.time()))
    assert StandardWebhook(SECRET).verify(BODY, headers) == {
        "type": "user.created",
        "timestamp": "2022-11-03T20:26:10.344522Z",
        "data": {"id": "u_1"},
    }
    SvixWebhook(SECRET).verify(BODY, headers)
    SvixWebhook(SECRET).verify(BODY, {name.replace("webhook-", "svix-"): value for name, value in headers.items()})
    with pytest.raises(WebhookVerificationError):
        SvixWebhook(SECRET).verify(BODY + b" ", headers)


async def test_mixed_names_disagreement() -> None:
    """Disagreement: svix's verifier takes each svix-* header over its webhook-* twin, so it accepts a
    mix; we refuse any mix (401). Svix documents one family per delivery
    (https://docs.svix.com/receiving/verifying-payloads/how-manual) and never sends a mix, so refusing
    one costs no real delivery and leaves no doubt which header was signed."""
    headers = sign_standard(SECRET, BODY, message_id="msg_4", timestamp=int(time.time()))
    mixed = {"svix-id": headers["webhook-id"], **{k: v for k, v in headers.items() if k != "webhook-id"}}
    SvixWebhook(SECRET).verify(BODY, mixed)
    status, app = await deliver(StandardWebhooks(secrets=[SECRET]), mixed, BODY)
    assert (status, app.bodies) == (401, [])
