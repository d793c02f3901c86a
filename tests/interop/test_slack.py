"""Slack request signing against the Slack SDK (``slack_sdk.signature.SignatureVerifier``), both ways.

Reference: https://api.slack.com/authentication/verifying-requests-from-slack
"""

from __future__ import annotations

import time

import pytest
from slack_sdk.signature import SignatureVerifier

from asgi_guard.webhooks import Slack, sign_slack
from tests.interop.helpers import deliver

pytestmark = pytest.mark.anyio

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"  # the format of Slack's example signing secret
BODY = b"token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&command=%2Fweather&text=94070"


async def test_sdk_signature_is_accepted() -> None:
    """What the SDK computes for a request (Slack's own algorithm) verifies with us."""
    stamp = str(int(time.time()))
    signature = SignatureVerifier(SECRET).generate_signature(timestamp=stamp, body=BODY)
    assert signature is not None
    headers = {"X-Slack-Request-Timestamp": stamp, "X-Slack-Signature": signature}
    status, app = await deliver(Slack(secrets=[SECRET]), headers, BODY)
    assert (status, app.bodies) == (200, [BODY])


async def test_our_signature_is_accepted_by_the_sdk() -> None:
    """The SDK's verifier accepts what ``sign_slack`` produces, and refuses it for another body."""
    headers = sign_slack(SECRET, BODY, int(time.time()))
    verifier = SignatureVerifier(SECRET)
    assert verifier.is_valid_request(BODY, headers)
    assert not verifier.is_valid_request(BODY + b"&x=1", headers)


async def test_both_refuse_a_stale_timestamp() -> None:
    """Both sides refuse a request signed six minutes ago (Slack: five minutes)."""
    stale = int(time.time()) - 360
    headers = sign_slack(SECRET, BODY, stale)
    assert not SignatureVerifier(SECRET).is_valid_request(BODY, headers)
    status, _ = await deliver(Slack(secrets=[SECRET]), headers, BODY)
    assert status == 401


async def test_non_numeric_timestamp_disagreement() -> None:
    """Disagreement: the SDK raises ValueError on a non-numeric timestamp (``int(timestamp)``), we answer
    401. Slack's docs define the timestamp as Unix seconds and say to refuse what cannot be verified
    (https://api.slack.com/authentication/verifying-requests-from-slack): ours follows the docs."""
    headers = {"X-Slack-Request-Timestamp": "soon", "X-Slack-Signature": "v0=" + "0" * 64}
    with pytest.raises(ValueError, match="invalid literal"):
        SignatureVerifier(SECRET).is_valid("x", "soon", headers["X-Slack-Signature"])
    status, _ = await deliver(Slack(secrets=[SECRET]), headers, BODY)
    assert status == 401
