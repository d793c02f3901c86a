"""The security event: one record per security decision."""

from __future__ import annotations

import msgspec


class SecurityEvent(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """A security decision, as logged.

    Every client-supplied string is cleaned (control characters replaced, length capped) before it
    gets here, and secrets only ever appear as short fingerprints.

    Attributes:
        type: what happened (``authn_success``, ``authn_failure``, ``authz_denied``, ``api_key_used``,
            ``rate_limit_hit``, ``signature_failure``, ``validation_failure``, ``backend_failure``, ...).
        result: ``allow``, ``deny``, ``shadow`` (would have denied), ``error``, ``alert`` (an anomaly)
            or ``disconnect`` (the client left before any response).
        time: epoch seconds.
        request_id: correlates every event of one request (the server's id, never the client's).
        client_request_id: the ``X-Request-ID`` the client sent, when it was acceptable.
        principal_id: the authenticated subject, if known.
        key_fingerprint: fingerprint of the credential used, never the credential.
        action: ``METHOD /path`` of the request.
        client_ip: after trusted-proxy resolution.
        user_agent: cleaned, capped.
        community_id: the community in scope, if any.
        reason: a stable machine-readable cause.
        extra: further cleaned string fields (provider, message id, limit name, ...).
    """

    type: str
    result: str
    time: float
    request_id: str = ""
    client_request_id: str = ""
    principal_id: str = ""
    key_fingerprint: str = ""
    action: str = ""
    client_ip: str = ""
    user_agent: str = ""
    community_id: str = ""
    reason: str = ""
    extra: dict[str, str] = msgspec.field(default_factory=dict)


__all__ = ("SecurityEvent",)
