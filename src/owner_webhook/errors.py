"""Errors as types: each names the outcome it ends in (outcomes.py says what that outcome answers)."""

from __future__ import annotations

from typing import ClassVar

from owner_webhook import outcomes
from owner_webhook.outcomes import Outcome


class WebhookError(Exception):
    """A request (or a queued message) that ends without an owner created; `outcome` decides the answer."""

    outcome: ClassVar[Outcome] = outcomes.INTERNAL_ERROR

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    @property
    def code(self) -> str:
        return self.outcome.code


# The request itself is wrong: resending the same request cannot help.
class UnknownSourceError(WebhookError):
    outcome = outcomes.UNKNOWN_SOURCE


class UnauthenticatedError(WebhookError):
    outcome = outcomes.UNAUTHENTICATED


class MalformedBodyError(WebhookError):
    outcome = outcomes.MALFORMED_BODY


class UnsupportedMediaTypeError(WebhookError):
    outcome = outcomes.UNSUPPORTED_MEDIA_TYPE


class PayloadTooLargeError(WebhookError):
    outcome = outcomes.PAYLOAD_TOO_LARGE


class MethodNotAllowedError(WebhookError):
    outcome = outcomes.METHOD_NOT_ALLOWED


class UnsupportedEventError(WebhookError):
    """The invocation is not an API Gateway or Function URL request (a test event, another trigger)."""

    outcome = outcomes.UNSUPPORTED_EVENT


class MalformedMessageError(WebhookError):
    """A retry-queue message this function did not write; dropped, not retried."""

    outcome = outcomes.MALFORMED_MESSAGE


class RouteNotFoundError(WebhookError):
    outcome = outcomes.NOT_FOUND


class InProgressError(WebhookError):
    """The same delivery, or another of its phone, is being handled right now."""

    outcome = outcomes.IN_PROGRESS


# The submission can never succeed: final, answered 422 or (form tools) 200 with success false.
class RefusedError(WebhookError):
    pass


class MissingPhoneError(RefusedError):
    outcome = outcomes.MISSING_PHONE


class InvalidPhoneError(RefusedError):
    outcome = outcomes.INVALID_PHONE


class RejectedPhoneError(RefusedError):
    outcome = outcomes.REJECTED_PHONE


# Transient: answered 503 with Retry-After so that the sender tries again.
class TransientError(WebhookError):
    def __init__(self, message: str, retry_after: int | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class UpstreamUnavailableError(TransientError):
    """The gateway answered 429/5xx or could not be reached; nothing was created."""

    outcome = outcomes.UPSTREAM_UNAVAILABLE


class UpstreamAmbiguousError(TransientError):
    """The request may have reached the gateway (read timeout, dropped connection)."""

    outcome = outcomes.UPSTREAM_AMBIGUOUS


class UpstreamAuthError(TransientError):
    """The gateway refused the key (401/403) even after a fresh fetch of the secret."""

    outcome = outcomes.UPSTREAM_AUTH


class UpstreamMisdirectedError(TransientError):
    """The gateway answered a redirect, 404 or 405: GATEWAY_BASE_URL (or the method) is wrong; nothing was created."""

    outcome = outcomes.UPSTREAM_MISDIRECTED


class SecretStoreUnavailableError(TransientError):
    outcome = outcomes.SECRET_STORE_UNAVAILABLE


class DeduplicationUnavailableError(TransientError):
    """The idempotency table could not be read or written: better a retry than an unprotected forward."""

    outcome = outcomes.DEDUPLICATION_UNAVAILABLE


class AtCeilingError(TransientError):
    """The gateway's ceiling is reached (every forwarder instance is busy), or the gateway asked to wait."""

    outcome = outcomes.AT_CEILING


class RetryQueueUnavailableError(TransientError):
    """QUEUE_EVERY_DELIVERY: SQS did not take the delivery (the sender is asked to retry)."""

    outcome = outcomes.RETRY_QUEUE_UNAVAILABLE


class ForwarderUnavailableError(TransientError):
    """The forwarder function could not be invoked: nothing was forwarded."""

    outcome = outcomes.FORWARDER_UNAVAILABLE


class OutOfTimeError(TransientError):
    """Too little of the invocation's time is left for the next step (a claim, a forward, a message)."""

    outcome = outcomes.OUT_OF_TIME


class ConfigurationError(TransientError):
    """The function is deployed wrong; answered 503 so that nothing is lost while it is fixed."""


class SettingError(ConfigurationError):
    """An environment variable is missing or invalid; the message names it."""

    outcome = outcomes.INVALID_SETTING


class SecretNotFoundError(ConfigurationError):
    outcome = outcomes.SECRET_NOT_FOUND


class SecretFormatError(ConfigurationError):
    outcome = outcomes.SECRET_MALFORMED


class ApiKeyMissingError(ConfigurationError):
    outcome = outcomes.API_KEY_MISSING


class ApiKeyInvalidError(ConfigurationError):
    """The api_key has characters an HTTP header cannot carry (line breaks, controls, non-ASCII)."""

    outcome = outcomes.API_KEY_INVALID


class WebhookSecretInvalidError(ConfigurationError):
    """A source's webhook secret would authenticate anyone (blank, or whsec_ without a key): it accepts nothing."""

    outcome = outcomes.WEBHOOK_SECRET_INVALID


class PhoneKeyError(ConfigurationError):
    """The phone key (PHONE_KEY_SECRET_ID) is missing or too short."""

    outcome = outcomes.PHONE_KEY_MALFORMED


def error_for(outcome: Outcome) -> type[WebhookError]:
    """The error that ends in `outcome` (a failure the forwarder function answered, raised again by the webhook)."""
    found = [error for error in _all(WebhookError) if error.outcome is outcome and not error.__subclasses__()]
    return found[0] if len(found) == 1 else WebhookError


def _all(base: type[WebhookError]) -> list[type[WebhookError]]:
    return [base, *(error for sub in base.__subclasses__() for error in _all(sub))]
