"""The answer table (SPEC section 6) for the automation sources, zapier and generic."""

from __future__ import annotations

import json

import pytest

from owner_webhook import answers, errors
from owner_webhook.settings import Settings
from owner_webhook.sources import registry

SOURCES = registry(Settings(api_key_secret_id="unused"))


def test_success_is_200_with_success_true() -> None:
    answer = answers.created()
    assert (answer.status, answer.body, answer.code) == (200, {"success": True}, "owner_created")


@pytest.mark.parametrize("source", ["zapier", "generic"])
@pytest.mark.parametrize(
    ("error", "code"),
    [
        (errors.MissingPhoneError("x"), "missing_phone"),
        (errors.InvalidPhoneError("x"), "invalid_phone"),
        (errors.RejectedPhoneError("x"), "rejected_phone"),
    ],
)
def test_refusals_are_422_for_automation_sources(source: str, error: errors.RefusedError, code: str) -> None:
    answer = answers.refused(error, SOURCES[source])
    assert answer.status == 422
    assert answer.body == {"success": False, "error": {"code": code, "message": "x"}}


class _FormTool:
    name = "formtool"
    acknowledges_refusals = True


def test_refusals_are_acknowledged_with_200_for_sources_that_would_disable_the_webhook() -> None:
    answer = answers.refused(errors.InvalidPhoneError("x"), _FormTool())  # type: ignore[arg-type]
    assert answer.status == 200
    assert answer.body["success"] is False
    assert answer.body["error"]["code"] == "invalid_phone"


@pytest.mark.parametrize(
    ("error", "status", "code"),
    [
        (errors.UnauthenticatedError("x"), 401, "unauthenticated"),
        (errors.MalformedBodyError("x"), 400, "malformed_body"),
        (errors.UnsupportedMediaTypeError("x"), 415, "unsupported_media_type"),
        (errors.PayloadTooLargeError("x"), 413, "payload_too_large"),
        (errors.UnknownSourceError("x"), 404, "unknown_source"),
        (errors.MethodNotAllowedError("x"), 405, "method_not_allowed"),
        (errors.UpstreamUnavailableError("x"), 503, "upstream_unavailable"),
        (errors.UpstreamAmbiguousError("x"), 503, "upstream_ambiguous"),
        (errors.UpstreamAuthError("x"), 503, "upstream_auth"),
        (errors.SecretStoreUnavailableError("x"), 503, "secret_store_unavailable"),
        (errors.SettingError("x"), 503, "invalid_setting"),
        (errors.SecretNotFoundError("x"), 503, "secret_not_found"),
        (errors.SecretFormatError("x"), 503, "secret_malformed"),
        (errors.ApiKeyMissingError("x"), 503, "api_key_missing"),
        (errors.ApiKeyInvalidError("x"), 503, "api_key_invalid"),
        (errors.WebhookSecretInvalidError("x"), 503, "webhook_secret_invalid"),
        (errors.InternalError("x"), 503, "internal_error"),
    ],
)
def test_failures_map_to_their_status_and_code(error: errors.WebhookError, status: int, code: str) -> None:
    answer = answers.failed(error)
    assert (answer.status, answer.code) == (status, code)
    assert answer.body == {"success": False, "error": {"code": code, "message": "x"}}
    assert ("Retry-After" in answer.headers) == (status == 503)


def test_retry_after_passes_on_what_the_gateway_asked_for() -> None:
    assert answers.failed(errors.UpstreamUnavailableError("x", retry_after=7)).headers == {"Retry-After": "7"}
    default = answers.failed(errors.UpstreamUnavailableError("x")).headers["Retry-After"]
    assert default == str(answers.DEFAULT_RETRY_AFTER)


def test_response_is_json_with_the_headers() -> None:
    response = answers.to_lambda(answers.failed(errors.UpstreamUnavailableError("down", retry_after=3)))
    assert response["statusCode"] == 503
    assert json.loads(response["body"])["error"]["code"] == "upstream_unavailable"
    assert response["headers"] == {"Content-Type": "application/json", "Retry-After": "3"}
    assert response["isBase64Encoded"] is False
