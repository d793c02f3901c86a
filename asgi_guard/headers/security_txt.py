"""``/.well-known/security.txt`` (RFC 9116): how researchers reach you, served from config."""

from __future__ import annotations

from datetime import datetime
from typing import Final

import msgspec

from asgi_guard.errors import ConfigurationError

SECURITY_TXT_PATH: Final = "/.well-known/security.txt"

_URI_SCHEMES: Final = ("https://", "mailto:", "tel:")


def _check_text(value: object, where: str) -> str:
    if not isinstance(value, str) or not value or any(ord(char) < 0x20 or ord(char) == 0x7F for char in value):
        raise ConfigurationError.expected("a non-empty single-line string", value, where)
    return value


def _check_uris(values: object, where: str, schemes: tuple[str, ...] = ("https://",)) -> None:
    if isinstance(values, str) or not isinstance(values, tuple | list):
        raise ConfigurationError.expected("a tuple of URIs", values, where)
    for index, value in enumerate(values):
        text = _check_text(value, f"{where}[{index}]")
        if not text.lower().startswith(schemes):
            raise ConfigurationError.expected(f"a URI starting with one of {list(schemes)}", value, f"{where}[{index}]")


class SecurityTxt(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The fields of a security.txt file (RFC 9116 §2.5). ``contact`` and ``expires`` are required.

    Attributes:
        contact: where to report vulnerabilities (``mailto:``, ``https://`` or ``tel:`` URIs), most
            preferred first.
        expires: when this file goes stale, RFC 3339 with a time zone (``2027-01-01T00:00:00Z``);
            RFC 9116 recommends less than a year ahead.
        encryption: ``https://`` URIs of the key to encrypt reports with.
        acknowledgments: ``https://`` URIs of a hall of fame.
        preferred_languages: language tags (``("en", "fr")``).
        canonical: the ``https://`` URIs this file is published at.
        policy: ``https://`` URIs of the disclosure policy.
        hiring: ``https://`` URIs of security job openings.
    """

    contact: tuple[str, ...]
    expires: str
    encryption: tuple[str, ...] = ()
    acknowledgments: tuple[str, ...] = ()
    preferred_languages: tuple[str, ...] = ()
    canonical: tuple[str, ...] = ()
    policy: tuple[str, ...] = ()
    hiring: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        _check_uris(self.contact, "SecurityTxt.contact", _URI_SCHEMES)
        if not self.contact:
            raise ConfigurationError.expected("at least one contact URI (RFC 9116 §2.5.3)", (), "SecurityTxt.contact")
        text = _check_text(self.expires, "SecurityTxt.expires")
        try:
            when = datetime.fromisoformat(text)
        except ValueError:
            when = None
        if when is None or when.tzinfo is None:
            raise ConfigurationError.expected(
                "an RFC 3339 date-time with a time zone (RFC 9116 §2.5.5)", text, "SecurityTxt.expires"
            )
        for name in ("encryption", "acknowledgments", "canonical", "policy", "hiring"):
            _check_uris(getattr(self, name), f"SecurityTxt.{name}")
        languages: object = self.preferred_languages
        if isinstance(languages, str) or not isinstance(languages, tuple | list):
            raise ConfigurationError.expected("a tuple of language tags", languages, "SecurityTxt.preferred_languages")
        for index, tag in enumerate(languages):
            _check_text(tag, f"SecurityTxt.preferred_languages[{index}]")
            if "," in tag or " " in tag:
                raise ConfigurationError.expected("one language tag", tag, f"SecurityTxt.preferred_languages[{index}]")

    def render(self) -> bytes:
        """The file's bytes: one ``Field: value`` line per value, CRLF-free, UTF-8."""
        lines = [f"Contact: {uri}" for uri in self.contact]
        lines.append(f"Expires: {self.expires}")
        lines.extend(f"Encryption: {uri}" for uri in self.encryption)
        lines.extend(f"Acknowledgments: {uri}" for uri in self.acknowledgments)
        if self.preferred_languages:
            lines.append(f"Preferred-Languages: {', '.join(self.preferred_languages)}")
        lines.extend(f"Canonical: {uri}" for uri in self.canonical)
        lines.extend(f"Policy: {uri}" for uri in self.policy)
        lines.extend(f"Hiring: {uri}" for uri in self.hiring)
        return ("\n".join(lines) + "\n").encode("utf-8")


__all__ = ("SECURITY_TXT_PATH", "SecurityTxt")
