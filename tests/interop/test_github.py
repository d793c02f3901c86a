"""GitHub webhook signatures against the documented algorithm (no maintained Python signer exists).

Reference: https://docs.github.com/en/webhooks/using-webhooks/validating-webhook-deliveries, including
its test values (secret ``It's a Secret to Everybody``, payload ``Hello, World!``).
"""

from __future__ import annotations

import hashlib
import hmac

import pytest

from asgi_guard.webhooks import GitHub, sign_github
from tests.interop.helpers import deliver

pytestmark = pytest.mark.anyio

DOC_SECRET = "It's a Secret to Everybody"
DOC_PAYLOAD = b"Hello, World!"
DOC_SIGNATURE = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"


def github_signature(secret: str, payload: bytes) -> str:
    """GitHub's documented computation: ``sha256=`` + hex HMAC-SHA256 of the raw body."""
    return "sha256=" + hmac.new(secret.encode("utf-8"), payload, hashlib.sha256).hexdigest()


def github_verifies(secret: str, payload: bytes, header: str) -> bool:
    """GitHub's documented check (a constant-time comparison of the whole header value)."""
    return hmac.compare_digest(github_signature(secret, payload), header)


def test_documented_test_values() -> None:
    """The reference computation reproduces the signature GitHub's docs publish."""
    assert github_signature(DOC_SECRET, DOC_PAYLOAD) == DOC_SIGNATURE


async def test_documented_delivery_is_accepted() -> None:
    """GitHub's published example delivery verifies with us."""
    headers = {"X-Hub-Signature-256": DOC_SIGNATURE, "X-GitHub-Delivery": "72d3162e-cc78-11e3-81ab-4c9367dc0958"}
    status, app = await deliver(GitHub(secrets=[DOC_SECRET]), headers, DOC_PAYLOAD)
    assert (status, app.bodies) == (200, [DOC_PAYLOAD])


async def test_our_signature_passes_the_documented_check() -> None:
    """``sign_github``'s header passes GitHub's documented check, and not for another body."""
    body = b'{"action":"opened","number":1}'
    header = sign_github(DOC_SECRET, body, delivery="d-1")["X-Hub-Signature-256"]
    assert github_verifies(DOC_SECRET, body, header)
    assert not github_verifies(DOC_SECRET, body + b" ", header)
