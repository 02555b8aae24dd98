"""Errors as types: each carries the answer code and HTTP status it maps to (see answers.py)."""

from __future__ import annotations

from typing import ClassVar


class WebhookError(Exception):
    """A request that ends without a forward; `code` and `status` decide the answer."""

    code: ClassVar[str] = "internal_error"
    status: ClassVar[int] = 503

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


# The request itself is wrong: resending the same request cannot help.
class UnknownSourceError(WebhookError):
    code = "unknown_source"
    status = 404


class UnauthenticatedError(WebhookError):
    code = "unauthenticated"
    status = 401


class MalformedBodyError(WebhookError):
    code = "malformed_body"
    status = 400


class UnsupportedMediaTypeError(WebhookError):
    code = "unsupported_media_type"
    status = 415


class PayloadTooLargeError(WebhookError):
    code = "payload_too_large"
    status = 413


class MethodNotAllowedError(WebhookError):
    code = "method_not_allowed"
    status = 405


class UnsupportedEventError(WebhookError):
    """The invocation is not an API Gateway or Function URL request (a test event, another trigger)."""

    code = "unsupported_event"
    status = 400


class MalformedMessageError(WebhookError):
    """A retry-queue message this function did not write; dropped, not retried."""

    code = "malformed_message"
    status = 400


class RouteNotFoundError(WebhookError):
    code = "not_found"
    status = 404


class InProgressError(WebhookError):
    """The same delivery is being handled right now (a sender retried before the first answer)."""

    code = "in_progress"
    status = 409
    retry_after = 10


# The submission can never succeed: final, answered 422 or (form tools) 200 with success false.
class RefusedError(WebhookError):
    status = 422


class MissingPhoneError(RefusedError):
    code = "missing_phone"


class InvalidPhoneError(RefusedError):
    code = "invalid_phone"


class RejectedPhoneError(RefusedError):
    code = "rejected_phone"


# Transient: answered 503 with Retry-After so that the sender tries again.
class TransientError(WebhookError):
    status = 503

    def __init__(self, message: str, retry_after: int | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class InternalError(TransientError):
    """A bug or an event this code does not understand; retried, and logged by type and place."""

    code = "internal_error"


class UpstreamUnavailableError(TransientError):
    """The gateway answered 429/5xx or could not be reached; nothing was created."""

    code = "upstream_unavailable"


class UpstreamAmbiguousError(TransientError):
    """The request may have reached the gateway (read timeout, dropped connection)."""

    code = "upstream_ambiguous"


class UpstreamAuthError(TransientError):
    """The gateway refused the key (401/403) even after a fresh fetch of the secret."""

    code = "upstream_auth"


class SecretStoreUnavailableError(TransientError):
    code = "secret_store_unavailable"


class DeduplicationUnavailableError(TransientError):
    """The idempotency table could not be read or written: better a retry than an unprotected forward."""

    code = "deduplication_unavailable"


class ConfigurationError(TransientError):
    """The function is deployed wrong; answered 503 so that nothing is lost while it is fixed."""

    code = "misconfigured"


class SettingError(ConfigurationError):
    """An environment variable is missing or invalid; the message names it."""

    code = "invalid_setting"


class SecretNotFoundError(ConfigurationError):
    code = "secret_not_found"


class SecretFormatError(ConfigurationError):
    code = "secret_malformed"


class ApiKeyMissingError(ConfigurationError):
    code = "api_key_missing"


class PhoneKeyError(ConfigurationError):
    """The HMAC key of the phone memory (PHONE_KEY_SECRET_ID) is missing or too short."""

    code = "phone_key_malformed"


class ApiKeyInvalidError(ConfigurationError):
    """The api_key has characters an HTTP header cannot carry (line breaks, controls, non-ASCII)."""

    code = "api_key_invalid"


class WebhookSecretInvalidError(ConfigurationError):
    """A source's webhook secret would authenticate anyone (blank, or whsec_ without a key): it accepts nothing."""

    code = "webhook_secret_invalid"
