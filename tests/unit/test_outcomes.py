"""The answer table (docs/answers.md), one row per outcome, for both kinds of sender."""

from __future__ import annotations

import json

import pytest

from owner_webhook import errors, outcomes
from owner_webhook.outcomes import Result

# (outcome, status to zapier and generic, status to the form tools, Retry-After)
TABLE = [
    (outcomes.OWNER_CREATED, 200, 200, None),
    (outcomes.PHONE_EXISTING, 200, 200, None),
    (outcomes.QUEUED, 200, 200, None),
    (outcomes.CREATED_UNRECORDED, 200, 200, None),
    (outcomes.IGNORED, 200, 200, None),
    (outcomes.MISSING_PHONE, 422, 200, None),
    (outcomes.INVALID_PHONE, 422, 200, None),
    (outcomes.REJECTED_PHONE, 422, 200, None),
    (outcomes.UNAUTHENTICATED, 401, 401, None),
    (outcomes.MALFORMED_BODY, 400, 400, None),
    (outcomes.UNSUPPORTED_MEDIA_TYPE, 415, 415, None),
    (outcomes.PAYLOAD_TOO_LARGE, 413, 413, None),
    (outcomes.UNKNOWN_SOURCE, 404, 404, None),
    (outcomes.METHOD_NOT_ALLOWED, 405, 405, None),
    (outcomes.NOT_FOUND, 404, 404, None),
    (outcomes.UNSUPPORTED_EVENT, 400, 400, None),
    (outcomes.IN_PROGRESS, 409, 409, "10"),
    (outcomes.UPSTREAM_UNAVAILABLE, 503, 503, "60"),
    (outcomes.UPSTREAM_AMBIGUOUS, 503, 503, "60"),
    (outcomes.UPSTREAM_AUTH, 503, 503, "60"),
    (outcomes.UPSTREAM_MISDIRECTED, 503, 503, "60"),
    (outcomes.SECRET_STORE_UNAVAILABLE, 503, 503, "60"),
    (outcomes.DEDUPLICATION_UNAVAILABLE, 503, 503, "60"),
    (outcomes.INVALID_SETTING, 503, 503, "60"),
    (outcomes.SECRET_NOT_FOUND, 503, 503, "60"),
    (outcomes.SECRET_MALFORMED, 503, 503, "60"),
    (outcomes.API_KEY_MISSING, 503, 503, "60"),
    (outcomes.API_KEY_INVALID, 503, 503, "60"),
    (outcomes.WEBHOOK_SECRET_INVALID, 503, 503, "60"),
    (outcomes.PHONE_KEY_MALFORMED, 503, 503, "60"),
    (outcomes.INTERNAL_ERROR, 503, 503, "60"),
    (outcomes.OUT_OF_TIME, 503, 503, "60"),
    (outcomes.DRY_RUN, 200, 200, None),
    (outcomes.AT_CEILING, 503, 503, "60"),
    (outcomes.FORWARDER_UNAVAILABLE, 503, 503, "60"),
    (outcomes.RETRY_QUEUE_UNAVAILABLE, 503, 503, "60"),
]
FORWARDER_ONLY = {"drained", "retry_later", "dead_lettered", "malformed_message", "duplicate_replayed"}


def test_the_table_covers_every_outcome_a_sender_can_get() -> None:
    assert {outcome.code for outcome, *_ in TABLE} == set(outcomes.ALL) - FORWARDER_ONLY


@pytest.mark.parametrize(
    ("outcome", "automation", "form_tool", "retry_after"), TABLE, ids=lambda o: getattr(o, "code", "")
)
def test_each_outcome_answers_each_kind_of_sender(
    outcome: outcomes.Outcome, automation: int, form_tool: int, retry_after: str | None
) -> None:
    for acknowledges, status in ((False, automation), (True, form_tool)):
        result = Result(outcome, "why", acknowledges_refusals=acknowledges)
        response = result.to_lambda()
        assert response["statusCode"] == status
        assert response["headers"].get("Retry-After") == retry_after
        assert response["headers"]["Content-Type"] == "application/json"
        assert response["isBase64Encoded"] is False
        body = json.loads(response["body"])
        if outcome.body is not None:
            assert body["success"] is True
        else:
            assert body == {"success": False, "error": {"code": outcome.code, "message": "why"}}


def test_success_bodies() -> None:
    assert Result(outcomes.OWNER_CREATED).body == {"success": True}
    assert Result(outcomes.PHONE_EXISTING).body == {"success": True, "existing": True}
    assert Result(outcomes.QUEUED).body == {"success": True, "queued": True}
    assert Result(outcomes.CREATED_UNRECORDED).body == {"success": True}  # the truth: the owner exists
    assert Result(outcomes.IGNORED).body == {"success": True, "ignored": True}


def test_retry_after_passes_on_what_the_gateway_asked_for() -> None:
    assert Result(outcomes.UPSTREAM_UNAVAILABLE, "x", retry_after=7).headers == {"Retry-After": "7"}


def test_every_error_type_names_an_outcome_of_the_table() -> None:
    types = [cls for cls in vars(errors).values() if isinstance(cls, type) and issubclass(cls, errors.WebhookError)]
    for cls in types:
        assert cls.outcome is outcomes.ALL[cls.outcome.code], cls


def test_every_signal_is_one_of_the_metrics_counted_beside_an_outcome() -> None:
    assert {name for outcome in outcomes.ALL.values() for name in outcome.signals} <= outcomes.ALSO_METRICS
    assert outcomes.UPSTREAM_AUTH.signals == ("GatewayKeyRefused",)
    assert outcomes.UPSTREAM_MISDIRECTED.signals == ("GatewayMisdirected",)  # its alarm, queued or answered


def test_every_outcome_has_a_metric_and_a_meaning() -> None:
    for outcome in outcomes.ALL.values():
        assert outcome.metric.isidentifier() and outcome.metric[0].isupper(), outcome
        assert outcome.meaning, outcome
