"""Stripe signatures and Standard Webhooks, with the published vectors from their own test suites."""

from __future__ import annotations

import base64

import pytest

from asgi_guard.errors import ConfigurationError, GuardError
from asgi_guard.webhooks import StandardWebhooks, Stripe, sign_standard, sign_stripe
from asgi_guard.webhooks.standard import parse_signatures
from asgi_guard.webhooks.stripe import parse_stripe_header
from tests.webhooks.helpers import NOW, VECTORS, last_event, middleware, post

pytestmark = pytest.mark.anyio

STRIPE = VECTORS["stripe-v1-computed"]
SW_SIGN = VECTORS["standard-webhooks-sign"]
SW_WRONG = VECTORS["standard-webhooks-wrong-sig"]
SW_MULTI = VECTORS["standard-webhooks-multi-sig"]


def stripe_mw():  # type: ignore[no-untyped-def]
    mw, app, clock = middleware(Stripe(secrets=[STRIPE["inputs"]["secret"]]))
    clock.set(STRIPE["inputs"]["t"] + 10)
    return mw, app, clock


async def test_stripe_vector_verifies() -> None:
    """The stripe-python payload signed at the vector's time verifies, with the whole whsec_ string as key."""
    mw, app, _ = stripe_mw()
    body = STRIPE["inputs"]["payload"].encode()
    response, _ = await post(mw, {"Stripe-Signature": STRIPE["expected"]["Stripe-Signature"]}, body)
    assert response.status == 200
    assert app.bodies == [body]


async def test_stripe_accepts_any_of_several_v1_and_ignores_other_schemes() -> None:
    """While Stripe rolls a secret it sends several v1 entries; v0 and unknown entries are ignored."""
    mw, _, _ = stripe_mw()
    good = STRIPE["expected"]["v1"]
    header = f"t={STRIPE['inputs']['t']},v1={'0' * 64},v0={good},v1=nothex,x=1,junk,v1={good}"
    assert (await post(mw, {"Stripe-Signature": header}, STRIPE["inputs"]["payload"].encode()))[0].status == 200


@pytest.mark.parametrize(
    ("header", "code"),
    [
        ("v1=" + "0" * 64, "invalid_signature"),
        ("t=1492774577,t=1492774577,v1=" + "0" * 64, "invalid_signature"),
        ("t=1492774577", "invalid_signature"),
        ("t=1492774577,v0=" + "0" * 64, "invalid_signature"),
        ("t=1492774577,v1=" + "0" * 64, "invalid_signature"),
        ("t=soon,v1=" + "0" * 64, "invalid_signature"),
        ("t=1492774000,v1=" + "0" * 64, "stale_timestamp"),
    ],
)
async def test_stripe_refusals(header: str, code: str) -> None:
    """No or repeated t, no v1, a wrong digest, a non-numeric or stale t are refused."""
    mw, app, _ = stripe_mw()
    response, _ = await post(mw, {"Stripe-Signature": header}, STRIPE["inputs"]["payload"].encode())
    assert response.json()["error"] == code
    assert app.bodies == []


async def test_stripe_rejects_decoded_secret_and_replays() -> None:
    """Stripe keys with the literal secret (a decoded whsec_ key does not verify); resends are 409."""
    mw, _app, _ = middleware(Stripe(secrets=["whsec_live_rotation_new", "whsec_test_secret"]))
    body = b'{"id":"evt_1"}'
    headers = sign_stripe("whsec_test_secret", body, int(NOW))
    assert (await post(mw, headers, body))[0].status == 200
    assert (await post(mw, headers, body))[0].json()["error"] == "replayed_message"
    assert (await post(mw, sign_stripe("test_secret", body, int(NOW)), body))[0].status == 401


async def test_stripe_replay_with_reordered_rotation_signatures_is_still_a_replay() -> None:
    """During a rotation a delivery has one v1 per secret: reordering or dropping them does not make it new."""
    mw, app, _ = middleware(Stripe(secrets=["whsec_old", "whsec_new"]))
    body = b'{"id":"evt_2"}'
    old = sign_stripe("whsec_old", body, int(NOW))["Stripe-Signature"]
    new_v1 = sign_stripe("whsec_new", body, int(NOW))["Stripe-Signature"].split(",")[1]
    assert (await post(mw, {"Stripe-Signature": f"{old},{new_v1}"}, body))[0].status == 200
    stamp, old_v1 = old.split(",")
    for resent in (f"{stamp},{new_v1},{old_v1}", f"{stamp},{new_v1}"):
        response, _ = await post(mw, {"Stripe-Signature": resent}, body)
        assert (response.status, response.json()["error"]) == (409, "replayed_message")
    assert app.bodies == [body]


def test_parse_stripe_header_caps_signature_count() -> None:
    """At most 16 v1 entries are considered, bounding the work per request."""
    header = ("t=1," + ",".join(["v1=" + "ab" * 32] * 40)).encode()
    stamp, signatures = parse_stripe_header(header)
    assert (stamp, len(signatures)) == (b"1", 16)


def sw_headers(vector: dict[str, object]) -> dict[str, str]:
    inputs = vector["inputs"]
    assert isinstance(inputs, dict)
    signature = inputs.get("webhook-signature") or vector["expected"]["webhook-signature"]  # type: ignore[index]
    return {
        "webhook-id": inputs["webhook-id"],
        "webhook-timestamp": inputs["webhook-timestamp"],
        "webhook-signature": signature,
    }


def sw_mw(**options: object):  # type: ignore[no-untyped-def]
    mw, app, clock = middleware(StandardWebhooks(secrets=[SW_SIGN["inputs"]["secret"]], **options))  # type: ignore[arg-type]
    clock.set(float(SW_SIGN["inputs"]["webhook-timestamp"]) + 5)
    return mw, app, clock


async def test_standard_sign_vector_verifies() -> None:
    """The spec libraries' sign-function vector verifies, and the signer reproduces it."""
    mw, app, _ = sw_mw()
    body = SW_SIGN["inputs"]["body"].encode()
    response, _ = await post(mw, sw_headers(SW_SIGN), body)
    assert response.status == 200
    assert app.webhooks[0].message_id == SW_SIGN["inputs"]["webhook-id"]
    signed = sign_standard(
        SW_SIGN["inputs"]["secret"],
        body,
        message_id=SW_SIGN["inputs"]["webhook-id"],
        timestamp=int(SW_SIGN["inputs"]["webhook-timestamp"]),
    )
    assert signed["webhook-signature"] == SW_SIGN["expected"]["webhook-signature"]


async def test_standard_wrong_signature_vector_is_refused() -> None:
    """The vector whose last base64 character differs is refused."""
    mw, app, _ = sw_mw()
    response, _ = await post(mw, sw_headers(SW_WRONG), SW_WRONG["inputs"]["body"].encode())
    assert response.json()["error"] == "invalid_signature"
    assert app.bodies == []


def test_parse_signatures_refuses_non_canonical_base64() -> None:
    """A signature spelled with other unused low bits in its last character decodes alike but is refused.

    `...1OE=` is the valid vector; `...1OF=` decodes to the same 32 bytes (base64 ignores the last
    character's two unused bits), so accepting it would give one signature several spellings.
    """
    valid = SW_SIGN["expected"]["webhook-signature"].encode()
    twin = valid[:-2] + b"F="
    assert base64.b64decode(twin.split(b",")[1]) == base64.b64decode(valid.split(b",")[1])
    assert len(parse_signatures(valid)) == 1
    assert parse_signatures(twin) == []


async def test_standard_non_canonical_twin_of_a_valid_signature_is_refused() -> None:
    """Through the middleware: the valid vector with a non-canonical last character never reaches the app."""
    mw, app, _ = sw_mw()
    headers = sw_headers(SW_SIGN)
    headers["webhook-signature"] = headers["webhook-signature"][:-2] + "F="
    response, _ = await post(mw, headers, SW_SIGN["inputs"]["body"].encode())
    assert response.json()["error"] == "invalid_signature"
    assert app.bodies == []


async def test_standard_multi_signature_vector_verifies() -> None:
    """Among decoys and a v2 entry, the one valid v1 signature suffices."""
    mw, _, _ = sw_mw()
    assert (await post(mw, sw_headers(SW_MULTI), SW_MULTI["inputs"]["body"].encode()))[0].status == 200


@pytest.mark.parametrize(("offset", "status"), [(-301, 401), (-299, 200), (299, 200), (301, 401)])
async def test_standard_window_both_ways(offset: int, status: int) -> None:
    """Five minutes in either direction, per the spec."""
    mw, _, clock = sw_mw()
    clock.set(float(SW_SIGN["inputs"]["webhook-timestamp"]) - offset)
    assert (await post(mw, sw_headers(SW_SIGN), SW_SIGN["inputs"]["body"].encode()))[0].status == status


async def test_standard_duplicate_id_is_acknowledged_or_rejected() -> None:
    """A resent webhook-id is acknowledged by default and a 409 with on_replay="reject"."""
    for on_replay, expected in (("acknowledge", 200), ("reject", 409)):
        mw, app, _ = sw_mw(on_replay=on_replay)
        body = SW_SIGN["inputs"]["body"].encode()
        await post(mw, sw_headers(SW_SIGN), body)
        response, scope = await post(mw, sw_headers(SW_SIGN), body)
        assert response.status == expected
        assert last_event(scope).extra["message_id"] == SW_SIGN["inputs"]["webhook-id"]
        assert len(app.bodies) == 1


async def test_standard_secret_without_prefix_and_rotation() -> None:
    """A bare base64 secret works like its whsec_ form, next to a second secret."""
    mw, _, _ = middleware(
        StandardWebhooks(secrets=["whsec_AAAAAAAAAAAAAAAAAAAAAA==", "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"])
    )
    body = b"{}"
    headers = sign_standard(SW_SIGN["inputs"]["secret"], body, message_id="msg_1", timestamp=int(NOW))
    assert (await post(mw, headers, body))[0].status == 200


@pytest.mark.parametrize(
    "signature",
    ["", "v1", "v1,", "v1,!!!!", "v2,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=", "v1,AAAA", "v1g0hM9SsE"],
)
def test_parse_signatures_skips_malformed_entries(signature: str) -> None:
    """Entries that are not `v1,<32 bytes base64>` match nothing."""
    assert parse_signatures(signature.encode()) == []


@pytest.mark.parametrize("secrets", [["whsec_!!!"], ["whsec_"], [""], "whsec_abc", [5]])
def test_standard_bad_secrets_are_configuration_errors(secrets: object) -> None:
    """Undecodable or empty secrets are refused at construction, without echoing them."""
    with pytest.raises(ConfigurationError, match=r"StandardWebhooks\.secrets") as caught:
        StandardWebhooks(secrets=secrets)  # type: ignore[arg-type]
    assert "!!!" not in str(caught.value)


def test_stripe_header_errors_are_guard_errors() -> None:
    """The header parser reports problems as GuardError, never as another exception."""
    with pytest.raises(GuardError):
        parse_stripe_header(b"")


def test_parse_signatures_caps_entry_count() -> None:
    """At most 16 v1 entries are decoded, bounding the work per request."""
    entry = b"v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
    assert len(parse_signatures(b" ".join([entry] * 40))) == 16


def svix_names(headers: dict[str, str]) -> dict[str, str]:
    return {name.replace("webhook-", "svix-"): value for name, value in headers.items()}


async def test_svix_header_names_verify() -> None:
    """Svix's svix-id/svix-timestamp/svix-signature carry the same signature (issue 18)."""
    mw, app, _ = sw_mw()
    body = SW_SIGN["inputs"]["body"].encode()
    response, _ = await post(mw, svix_names(sw_headers(SW_SIGN)), body)
    assert response.status == 200
    assert app.webhooks[0].message_id == SW_SIGN["inputs"]["webhook-id"]


@pytest.mark.parametrize("moved", ["webhook-id", "webhook-timestamp", "webhook-signature"])
async def test_a_mix_of_webhook_and_svix_names_is_refused(moved: str) -> None:
    """One header of the other family (even carrying the right value) refuses the request."""
    mw, app, _ = sw_mw()
    headers = sw_headers(SW_SIGN)
    mixed = {(name.replace("webhook-", "svix-") if name == moved else name): value for name, value in headers.items()}
    response, scope = await post(mw, mixed, SW_SIGN["inputs"]["body"].encode())
    assert (response.status, response.json()["error"]) == (401, "invalid_signature")
    assert last_event(scope).reason == "mixed_webhook_and_svix_headers"
    both = {**headers, **svix_names(headers)}
    assert (await post(mw, both, SW_SIGN["inputs"]["body"].encode()))[0].status == 401
    assert app.bodies == []


@pytest.mark.parametrize("name", ["svix-id", "svix-timestamp", "svix-signature"])
async def test_duplicated_svix_headers_are_refused(name: str) -> None:
    """A svix-* header sent twice is refused, as a duplicated webhook-* header is."""
    mw, app, _ = sw_mw()
    headers = list(svix_names(sw_headers(SW_SIGN)).items())
    headers.append((name, dict(headers)[name]))
    response, _ = await post(mw, headers, SW_SIGN["inputs"]["body"].encode())
    assert (response.status, response.json()["error"]) == (401, "invalid_signature")
    assert app.bodies == []


async def test_svix_refusal_event_quotes_the_svix_id() -> None:
    """A refused svix-named delivery is logged with the id it claims."""
    mw, _, _ = sw_mw()
    headers = {**svix_names(sw_headers(SW_SIGN)), "svix-signature": "v1," + "A" * 43 + "="}
    response, scope = await post(mw, headers, SW_SIGN["inputs"]["body"].encode())
    assert response.status == 401
    assert last_event(scope).extra["message_id"] == SW_SIGN["inputs"]["webhook-id"]
