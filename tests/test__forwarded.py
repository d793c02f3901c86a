"""Total parsers of forwarded hops: addresses with ports and RFC 7239 Forwarded elements."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from asgi_guard._forwarded import MAX_ADDRESS, forwarded_for, parse_address, safe_peer


def test_parse_address_normalises() -> None:
    """parse_address accepts the usual hop spellings and rejects everything else."""
    assert parse_address(" 1.2.3.4 ") == ipaddress.ip_address("1.2.3.4")
    assert parse_address("[::1]") == ipaddress.ip_address("::1")
    assert parse_address("[::1]x") is None
    assert parse_address("1.2.3.4:") is None
    assert parse_address("1.2.3.4:1234567") is None
    assert parse_address("1.2.3.4:١٢") is None  # non-ASCII digits are not a port
    assert parse_address("fe80::1%eth0") is None  # zone ids are free-form text
    assert parse_address('[fe80::1%a"b]:80') is None


def test_forwarded_for_lists_every_element() -> None:
    """forwarded_for returns one entry per element, None where no usable for= exists."""
    assert forwarded_for('for=a, proto=http, for="b"') == ["a", None, "b"]


def test_parse_address_refuses_overlong_text() -> None:
    """Text longer than any address form is refused without parsing."""
    assert parse_address("1" * (MAX_ADDRESS + 1)) is None
    assert parse_address("") is None


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=80))
def test_forwarded_parser_total_on_text(value: str) -> None:
    """The Forwarded parser returns one entry per comma-separated element for any text."""
    hops = forwarded_for(value)
    assert len(hops) >= 1
    assert all(hop is None or isinstance(hop, str) for hop in hops)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=80))
def test_parse_address_total_on_bytes(raw: bytes) -> None:
    """For any header bytes, parse_address returns None or an address whose text has no zone id."""
    address = parse_address(raw.decode("latin-1"))
    assert address is None or "%" not in str(address)


@pytest.mark.parametrize(
    ("peer", "expected"),
    [
        ("", ""),
        ("203.0.113.7", "203.0.113.7"),
        ("2001:db8::1", "2001:db8::1"),
        ("testclient", "invalid"),
        ("/run/app.sock", "invalid"),
        ("fe80::1%eth0", "invalid"),
        ("x" * 500, "invalid"),
        ("1.2.3.4\r\nforged", "invalid"),
    ],
)
def test_safe_peer_keeps_addresses_and_replaces_everything_else(peer: str, expected: str) -> None:
    """A peer read directly from the scope is an address or the placeholder, never other text."""
    assert safe_peer(peer) == expected
