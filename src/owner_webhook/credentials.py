"""The secret: the gateway key and the per-source webhook secrets, cached by Powertools parameters."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

import boto3
from aws_lambda_powertools.utilities.parameters import SecretsProvider
from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError
from botocore.exceptions import ClientError

from owner_webhook.aws_clients import CLIENT_CONFIG
from owner_webhook.errors import (
    ApiKeyInvalidError,
    ApiKeyMissingError,
    PhoneKeyError,
    SecretFormatError,
    SecretNotFoundError,
    SecretStoreUnavailableError,
    WebhookSecretInvalidError,
)
from owner_webhook.sources import standard_webhooks
from owner_webhook.sources.secret import WebhookSecret

# An HMAC key should be long enough not to be guessed; the template generates 64 characters.
_MIN_PHONE_KEY_CHARS = 32
_NOT_FOUND = {"ResourceNotFoundException", "DecryptionFailure", "AccessDeniedException", "InvalidRequestException"}
# The key travels as `Authorization: Bearer <key>`: visible ASCII, nothing a header cannot carry.
_HEADER_TOKEN = re.compile(r"[\x21-\x7e]+")


@dataclass(frozen=True)
class Credentials:
    api_key: str
    webhook_secrets: dict[str, WebhookSecret] = field(default_factory=dict)
    unusable: dict[str, str] = field(default_factory=dict)  # source: why its entry can authenticate nothing

    def webhook_secret(self, source: str) -> WebhookSecret | None:
        """The secrets a source authenticates with (any one verifies), or None when the secret has no entry for it.

        Raises WebhookSecretInvalidError when its entry is one no request may pass (blank, key-less).
        """
        if source in self.unusable:
            raise WebhookSecretInvalidError(self.unusable[source])
        return self.webhook_secrets.get(source) or None


class CredentialStore:
    """Reads the secret through Powertools parameters, cached for `max_age` seconds per warm function."""

    def __init__(
        self,
        secret_id: str,
        max_age: int,
        session: boto3.session.Session | None = None,
        phone_key_secret_id: str | None = None,
    ) -> None:
        self._secret_id = secret_id
        self._phone_key_secret_id = phone_key_secret_id
        self._max_age = max_age
        self._provider = SecretsProvider(boto_config=CLIENT_CONFIG, boto3_session=session)
        self._parsed: tuple[object, Credentials] | None = None  # the last value and its parse
        self._phone_keys: tuple[object, tuple[bytes, ...]] | None = None

    def load(self, *, fresh: bool = False) -> Credentials:
        """The current credentials; raises SecretStoreUnavailableError or a ConfigurationError."""
        value = self._get(self._secret_id, "API_KEY_SECRET_ID", fresh=fresh)
        if self._parsed is None or self._parsed[0] != value:  # parse once per value, not per request
            self._parsed = (value, parse_secret(value))
        return self._parsed[1]

    def phone_keys(self) -> tuple[bytes, ...]:
        """The phone keys (PHONE_KEY_SECRET_ID): the current one first, then older ones still read.

        The secret is one key, or a JSON list of keys (after replacing the key: the new one first).
        Raises as `load` does.
        """
        if self._phone_key_secret_id is None:
            raise PhoneKeyError("PHONE_KEY_SECRET_ID is not set")
        value = self._get(self._phone_key_secret_id, "PHONE_KEY_SECRET_ID")
        if self._phone_keys is None or self._phone_keys[0] != value:  # parse once per value
            self._phone_keys = (value, parse_phone_keys(value))
        return self._phone_keys[1]

    def _get(self, secret_id: str, variable: str, *, fresh: bool = False) -> object:
        try:
            value = self._provider.get(secret_id, max_age=self._max_age, force_fetch=fresh)
        except GetParameterError as exc:
            # Powertools re-raises inside its except block, so the boto error is the context.
            cause = exc.__context__
            if isinstance(cause, ClientError) and cause.response.get("Error", {}).get("Code") in _NOT_FOUND:
                code = cause.response["Error"]["Code"]
                raise SecretNotFoundError(
                    f"{variable} names a secret that cannot be read ({code}); check the name and the policy"
                ) from exc
            raise SecretStoreUnavailableError("Secrets Manager could not be reached") from exc
        if value is None:
            raise SecretNotFoundError(f"{variable} names a secret that has no value")
        return value


def parse_secret(value: object) -> Credentials:
    """Parse the secret's value (docs/configuration.md); raises SecretFormatError or ApiKeyMissingError."""
    if not isinstance(value, str):
        raise SecretFormatError("the secret is binary: store a JSON object or the plain API key as SecretString")
    text = value.strip()
    if not text.startswith(("{", "[", '"')):
        if not text:
            raise ApiKeyMissingError("the secret is empty: store the gateway API key")
        return Credentials(api_key=_header_value(text))
    try:
        document = json.loads(text)
    except ValueError:
        raise SecretFormatError("the secret looks like JSON but does not parse") from None
    if isinstance(document, str):
        document = {"api_key": document}
    if not isinstance(document, dict):
        raise SecretFormatError("the secret must be a JSON object or a plain string")
    api_key = document.get("api_key")
    if not isinstance(api_key, str) or not api_key.strip():
        raise ApiKeyMissingError("the secret has no non-empty string 'api_key'")
    secrets = document.get("webhook_secrets", {})
    if not isinstance(secrets, dict):
        raise SecretFormatError("'webhook_secrets' must be an object of source name to its secret")
    entries = {str(k): _webhook_secret(v) for k, v in secrets.items()}
    problems = {source: problem for source, entry in entries.items() if (problem := _entry_problem(source, entry))}
    return Credentials(
        api_key=_header_value(api_key.strip()),
        webhook_secrets={k: v for k, v in entries.items() if k not in problems and isinstance(v, WebhookSecret)},
        unusable=problems,
    )


def _header_value(api_key: str) -> str:
    if not _HEADER_TOKEN.fullmatch(api_key):
        raise ApiKeyInvalidError(
            "the api_key has characters an HTTP header cannot carry (line breaks, control characters, spaces, "
            "non-ASCII): store the key alone"
        )
    return api_key


def _webhook_secret(value: object) -> WebhookSecret | str:
    """An entry: a secret, a list of them (any one verifies: rotation), or {"secret": ..., "url": ...};
    or why it is none of these."""
    url = None
    if isinstance(value, dict):
        unknown = sorted(set(value) - {"secret", "url"})
        if unknown or not isinstance(value.get("url", ""), str):
            return "is an object of secret (a string or a list of them) and url (a string)"
        url = value.get("url") or None
        value = value.get("secret")
    values = value if isinstance(value, list) else [value]
    texts = tuple(v for v in values if isinstance(v, str))
    if not texts or len(texts) != len(values):
        return "must be a string, a list of strings, or an object with secret and url"
    return WebhookSecret(texts, url)


def _entry_problem(source: str, entry: WebhookSecret | str) -> str | None:
    name = f"webhook_secrets.{source[:40]}"
    if isinstance(entry, str):
        return f"{name} {entry}"
    return next((problem for value in entry.values if (problem := _webhook_secret_problem(name, value))), None)


def _webhook_secret_problem(name: str, value: str) -> str | None:
    """Why this value would let anyone in or fail every request, or None when it is usable."""
    if not value.strip(" \t\r\n\0"):  # HMAC pads a key with zero bytes: all zeros is no key at all
        return f"{name} is blank: set the sender's secret, or remove the entry"
    if not value.isascii() and not _is_text(value):
        return f"{name} is not valid text"
    if value.startswith(standard_webhooks.PREFIX) and not (standard_webhooks.key(value) or b"").strip(b"\0"):
        return f"{name} is whsec_ without a base64 key after it (or with a key of zero bytes only)"
    return None


def _is_text(value: str) -> bool:
    try:
        value.encode()
    except UnicodeEncodeError:  # a lone surrogate, from a \ud800 escape in the JSON
        return False
    return True


def parse_phone_keys(value: object) -> tuple[bytes, ...]:
    """The phone key secret's value as keys: one key, or a JSON list of keys (the current first), as the
    function reads it (and `make lookup`); raises PhoneKeyError."""
    keys: object = value
    if isinstance(value, str) and value.strip().startswith("["):
        try:
            keys = json.loads(value)
        except ValueError:
            keys = None
    listed = keys if isinstance(keys, list) and keys else [keys]
    if not all(isinstance(key, str) and len(key.strip()) >= _MIN_PHONE_KEY_CHARS for key in listed):
        raise PhoneKeyError(
            f"PHONE_KEY_SECRET_ID names a secret that is not a key of at least {_MIN_PHONE_KEY_CHARS} characters "
            "(or a JSON list of such keys, the current first)"
        )
    return tuple(str(key).strip().encode() for key in listed)
