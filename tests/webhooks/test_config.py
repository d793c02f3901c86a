"""Configuration mistakes are refused at construction with msgspec-style messages."""

from __future__ import annotations

import pytest

from asgi_guard.compose import guard
from asgi_guard.errors import ConfigurationError
from asgi_guard.webhooks import (
    GenericHMAC,
    GitHub,
    Slack,
    Stripe,
    TimestampedHMAC,
    TwitchEventSub,
    Verifier,
    WebhookConfig,
)

VERIFIERS = [GenericHMAC, TimestampedHMAC, TwitchEventSub, Slack, GitHub, Stripe]


@pytest.mark.parametrize("kind", VERIFIERS)
@pytest.mark.parametrize("secrets", [[], "a-single-string", ["ok", ""], [b"bytes"], None, ("ok", 5)])
def test_secrets_must_be_a_list_of_non_empty_strings(kind: type[Verifier], secrets: object) -> None:
    """Each HMAC verifier needs a list (not a bare string) of non-empty string secrets."""
    with pytest.raises(ConfigurationError, match="secrets"):
        kind(secrets=secrets)  # type: ignore[call-arg]


@pytest.mark.parametrize(
    ("kind", "field"),
    [(TimestampedHMAC, "tolerance"), (TwitchEventSub, "tolerance"), (Slack, "tolerance"), (Stripe, "tolerance")],
)
@pytest.mark.parametrize("value", [0, -5, 86_401, True, "300"])
def test_windows_must_be_sane(kind: type[Verifier], field: str, value: object) -> None:
    """Tolerance windows are positive seconds up to a day."""
    with pytest.raises(ConfigurationError, match=field):
        kind(secrets=["s"], **{field: value})  # type: ignore[call-arg]


def test_github_dedupe_window_checked() -> None:
    """GitHub's dedupe window is checked like a tolerance."""
    with pytest.raises(ConfigurationError, match="dedupe_window"):
        GitHub(secrets=["s"], dedupe_window=0)


@pytest.mark.parametrize(("field", "value"), [("on_replay", "ignore"), ("replay_fail_mode", "maybe")])
def test_replay_options_are_checked(field: str, value: str) -> None:
    """on_replay and replay_fail_mode accept only their documented values."""
    with pytest.raises(ConfigurationError, match=field):
        GenericHMAC(secrets=["s"], **{field: value})  # type: ignore[arg-type]


@pytest.mark.parametrize("name", ["X-Signature", "", "x-sïg", 5])
def test_header_names_are_lower_case_ascii(name: object) -> None:
    """Configured header names must be lower-case ASCII, as ASGI servers deliver them."""
    with pytest.raises(ConfigurationError, match="header"):
        TimestampedHMAC(secrets=["s"], timestamp_header=name)  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="header"):
        GenericHMAC(secrets=["s"], signature_header=name)  # type: ignore[arg-type]


def test_unknown_fields_are_refused() -> None:
    """A misspelt option is an error, not silently ignored."""
    with pytest.raises(TypeError):
        GenericHMAC(secrets=["s"], secret="s")  # type: ignore[call-arg]


def test_secret_values_never_appear_in_errors() -> None:
    """A bad secrets argument is described by type, never echoed."""
    with pytest.raises(ConfigurationError) as caught:
        GenericHMAC(secrets="super-secret-value")  # type: ignore[arg-type]
    assert "super-secret-value" not in str(caught.value)


@pytest.mark.parametrize("kind", VERIFIERS)
def test_verifier_repr_never_shows_secrets(kind: type[Verifier]) -> None:
    """A verifier's repr (and a config error quoting it) names the provider, never the secret."""
    verifier = kind(secrets=["super-secret-value-0123456789"])  # type: ignore[call-arg]
    with pytest.raises(ConfigurationError) as caught:
        WebhookConfig(routes=[("/hook", verifier)])  # type: ignore[arg-type]
    for text in (repr(verifier), str(caught.value), repr(verifier.__rich_repr__())):
        assert "super-secret-value" not in text
        assert verifier.provider in text


@pytest.mark.parametrize(
    ("options", "where"),
    [
        ({"routes": {}}, "routes"),
        ({"routes": []}, "routes"),
        ({"routes": {5: GenericHMAC(secrets=["s"])}}, "routes"),
        ({"routes": {"no-slash": GenericHMAC(secrets=["s"])}}, "route"),
        ({"routes": {"/hook": "GenericHMAC"}}, "routes"),
        ({"routes": {"/hook": Verifier()}}, "routes"),
        ({"max_body_bytes": 0}, "max_body_bytes"),
        ({"max_body_bytes": True}, "max_body_bytes"),
        ({"replay_store": object()}, "replay_store"),
        ({"clock": object()}, "clock"),
        ({"error_format": "xml"}, "error_format"),
    ],
)
def test_webhook_config_checks(options: dict[str, object], where: str) -> None:
    """WebhookConfig refuses empty routes, bad templates, non-verifiers, bad sizes, stores, clocks and formats."""
    fields: dict[str, object] = {"routes": {"/hook": GenericHMAC(secrets=["s"])}, **options}
    with pytest.raises(ConfigurationError, match=where):
        WebhookConfig(**fields)  # type: ignore[arg-type]


def test_base_verifier_cannot_build() -> None:
    """The abstract base has no scheme to compile."""
    with pytest.raises(NotImplementedError):
        Verifier().build()


def test_guard_refuses_duplicate_webhook_layers() -> None:
    """guard() refuses two webhook configs in one stack."""
    config = WebhookConfig(routes={"/hook": GenericHMAC(secrets=["s"])})
    with pytest.raises(ConfigurationError, match="twice"):
        guard(lambda scope, receive, send: None, config, config)  # type: ignore[arg-type,return-value]
