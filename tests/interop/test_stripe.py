"""Stripe signatures against stripe-python (``stripe.WebhookSignature``), both ways.

Reference: https://docs.stripe.com/webhooks#verify-manually
"""

from __future__ import annotations

import time

import pytest
import stripe

from asgi_guard.webhooks import Stripe, sign_stripe
from tests.interop.helpers import deliver

pytestmark = pytest.mark.anyio

SECRET = "whsec_test_secret_0123456789abcdef"
BODY = b'{\n  "id": "evt_test_webhook",\n  "object": "event",\n  "type": "charge.succeeded"\n}'


async def test_stripe_signature_header_is_accepted() -> None:
    """The header stripe-python generates (its own signing code, "for unit tests") verifies with us."""
    header = stripe.WebhookSignature.generate_signature_header(BODY.decode(), SECRET)
    status, app = await deliver(Stripe(secrets=[SECRET]), {"Stripe-Signature": header}, BODY)
    assert (status, app.bodies) == (200, [BODY])


async def test_our_signature_is_accepted_by_stripe() -> None:
    """stripe-python verifies ``sign_stripe``'s header and builds the event from it."""
    header = sign_stripe(SECRET, BODY, int(time.time()))["Stripe-Signature"]
    assert stripe.WebhookSignature.verify_header(BODY.decode(), header, SECRET, tolerance=300)
    event = stripe.Webhook.construct_event(BODY.decode(), header, SECRET)
    assert event["id"] == "evt_test_webhook"
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.WebhookSignature.verify_header(BODY.decode(), header, SECRET + "x", tolerance=300)


async def test_both_refuse_a_stale_timestamp() -> None:
    """Both refuse a header from six minutes ago with the default 300 s tolerance."""
    stale = int(time.time()) - 360
    header = stripe.WebhookSignature.generate_signature_header(BODY.decode(), SECRET, timestamp=stale)
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.WebhookSignature.verify_header(BODY.decode(), header, SECRET, tolerance=300)
    status, _ = await deliver(Stripe(secrets=[SECRET]), {"Stripe-Signature": header}, BODY)
    assert status == 401


async def test_future_timestamp_disagreement() -> None:
    """Disagreement: stripe-python only refuses timestamps older than the tolerance, so a header dated
    ten minutes ahead passes it; we refuse it too. Stripe's docs describe the tolerance as the
    difference between the timestamp and the current time (https://docs.stripe.com/webhooks#replay-attacks);
    refusing both directions follows them and keeps a future-dated capture from outliving the window."""
    ahead = int(time.time()) + 600
    header = stripe.WebhookSignature.generate_signature_header(BODY.decode(), SECRET, timestamp=ahead)
    assert stripe.WebhookSignature.verify_header(BODY.decode(), header, SECRET, tolerance=300)
    status, app = await deliver(Stripe(secrets=[SECRET]), {"Stripe-Signature": header}, BODY)
    assert (status, app.bodies) == (401, [])
