"""The secret's format (docs/configuration.md, "The secret"): a JSON object, or the API key alone."""

from __future__ import annotations

import pytest

from owner_webhook.credentials import Credentials, parse_secret
from owner_webhook.errors import ApiKeyInvalidError, ApiKeyMissingError, SecretFormatError, WebhookSecretInvalidError
from owner_webhook.sources.secret import WebhookSecret


@pytest.mark.parametrize(
    ("value", "credentials"),
    [
        ("gw-key", Credentials("gw-key")),
        ("  gw-key\n", Credentials("gw-key")),
        ('{"api_key": "gw-key"}', Credentials("gw-key")),
        ('"gw-key"', Credentials("gw-key")),
        (
            '{"api_key": "gw-key", "webhook_secrets": {"zapier": "z", "generic": "whsec_abc"}}',
            Credentials("gw-key", {"zapier": WebhookSecret.of("z"), "generic": WebhookSecret.of("whsec_abc")}),
        ),
        (  # two while a secret is rotated: either verifies
            '{"api_key": "gw-key", "webhook_secrets": {"shopify": ["old", "new"]}}',
            Credentials("gw-key", {"shopify": WebhookSecret.of("old", "new")}),
        ),
        (  # a recipe that signs its public URL
            '{"api_key": "gw-key", "webhook_secrets": {"hubspot": {"secret": ["s"], "url": "https://h.example/x"}}}',
            Credentials("gw-key", {"hubspot": WebhookSecret.of("s", url="https://h.example/x")}),
        ),
    ],
)
def test_valid_secrets(value: str, credentials: Credentials) -> None:
    assert parse_secret(value) == credentials


@pytest.mark.parametrize(
    ("value", "error"),
    [
        (b"binary", SecretFormatError),
        ('{"api_key": ', SecretFormatError),
        ("[1, 2]", SecretFormatError),
        ('{"api_key": "k", "webhook_secrets": ["z"]}', SecretFormatError),
        ('{"webhook_secrets": {}}', ApiKeyMissingError),
        ('{"api_key": ""}', ApiKeyMissingError),
        ('{"api_key": 42}', ApiKeyMissingError),
        ("", ApiKeyMissingError),
        # An api_key no HTTP header can carry: http.client would refuse it mid-request.
        ('{"api_key": "k\\r\\nX-Injected: 1"}', ApiKeyInvalidError),
        ('{"api_key": "k\\u0000"}', ApiKeyInvalidError),
        ('{"api_key": "kéy"}', ApiKeyInvalidError),
        ('{"api_key": "k\\ud800"}', ApiKeyInvalidError),
        ('{"api_key": "two words"}', ApiKeyInvalidError),
        ("key\u2028with a line separator", ApiKeyInvalidError),
    ],
)
def test_invalid_secrets(value: str | bytes, error: type[Exception]) -> None:
    with pytest.raises(error):
        parse_secret(value)


def test_a_source_without_an_entry_has_no_secret() -> None:
    credentials = Credentials("k", {"zapier": WebhookSecret.of("z")})
    assert credentials.webhook_secret("zapier") == WebhookSecret.of("z")
    assert credentials.webhook_secret("typeform") is None


@pytest.mark.parametrize(
    ("entry", "why"),
    [
        ("", "blank"),
        ("  ", "blank"),
        ("\\t\\n", "blank"),
        ("whsec_", "whsec_ without a base64 key"),
        ("whsec_====", "whsec_ without a base64 key"),
        ("whsec_***", "whsec_ without a base64 key"),
        ("whsec_AAAA", "whsec_ without a base64 key"),  # three zero bytes: HMAC's padding makes it no key
        ("\\u0000", "blank"),  # a key of zero bytes only, likewise
        ("\\u0000\\u0000 ", "blank"),
        ("\\ud800", "not valid text"),
        ('["new", ""]', "blank"),  # every secret of a list must be usable
        ("[]", "must be a string, a list of strings"),
        ("1", "must be a string, a list of strings"),
        ('["a", 1]', "must be a string, a list of strings"),
        ('{"secret": "s", "uri": "x"}', "an object of secret"),
        ('{"url": "https://x"}', "must be a string, a list of strings"),
    ],
)
def test_a_webhook_secret_that_would_let_anyone_in_is_a_configuration_error(entry: str, why: str) -> None:
    json_entry = entry if entry[:1] in ("[", "{") or entry.isdigit() else f'"{entry}"'
    credentials = parse_secret(f'{{"api_key": "k", "webhook_secrets": {{"zapier": {json_entry}, "tally": "t"}}}}')
    with pytest.raises(WebhookSecretInvalidError, match=why) as raised:
        credentials.webhook_secret("zapier")
    assert "webhook_secrets.zapier" in raised.value.message  # the log names the source
    assert credentials.webhook_secret("tally") == WebhookSecret.of("t")  # the other sources are unaffected
