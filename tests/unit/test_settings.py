"""Settings: defaults, and every invalid value named by its variable.

The promise: docs/configuration.md.
"""

from __future__ import annotations

import pytest

from owner_webhook.errors import SettingError
from owner_webhook.settings import load_settings


def test_defaults() -> None:
    settings = load_settings({"API_KEY_SECRET_ID": "owner-webhook/prod"})
    assert settings.api_key_secret_id == "owner-webhook/prod"
    assert settings.owner_url == "https://pgw.klogs.io/owner"
    assert settings.default_phone_region == "TR"
    assert settings.secret_max_age == 300
    assert settings.max_body_bytes == 256 * 1024
    # A slow but working gateway gets 5 s, inside the forward's 8 s (Tally gives up at 10 s).
    assert (settings.gateway_connect_timeout, settings.gateway_read_timeout, settings.forward_budget) == (1.0, 5.0, 8.0)


def test_values_are_read_and_normalized() -> None:
    settings = load_settings(
        {
            "API_KEY_SECRET_ID": " arn:aws:secretsmanager:eu-central-1:123456789012:secret:x ",
            "GATEWAY_BASE_URL": "http://127.0.0.1:8081/",
            "DEFAULT_PHONE_REGION": "gb",
            "SECRET_CACHE_SECONDS": "60",
            "MAX_BODY_BYTES": "1024",
            "GATEWAY_CONNECT_TIMEOUT": "0.5",
            "GATEWAY_READ_TIMEOUT": "3",
        }
    )
    assert settings.api_key_secret_id == "arn:aws:secretsmanager:eu-central-1:123456789012:secret:x"
    assert settings.owner_url == "http://127.0.0.1:8081/owner"
    assert settings.default_phone_region == "GB"
    assert (settings.secret_max_age, settings.max_body_bytes) == (60, 1024)
    assert (settings.gateway_connect_timeout, settings.gateway_read_timeout) == (0.5, 3.0)


TABLE = {"API_KEY_SECRET_ID": "s", "IDEMPOTENCY_TABLE": "t", "PHONE_KEY_SECRET_ID": "k"}


def test_the_phone_memory_is_on_by_default_with_a_table_and_can_be_turned_off() -> None:
    assert load_settings(TABLE).phone_deduplication == 7 * 86_400
    assert load_settings({**TABLE, "PHONE_DEDUPLICATION_SECONDS": "0"}).phone_deduplication == 0
    assert load_settings({"API_KEY_SECRET_ID": "s"}).phone_deduplication == 0  # no table: nowhere to keep phones
    assert load_settings({**TABLE, "IDEMPOTENCY_TTL_SECONDS": "111900"}).idempotency_ttl == 111_900


@pytest.mark.parametrize(
    ("environ", "variable"),
    [
        ({}, "API_KEY_SECRET_ID"),
        ({"API_KEY_SECRET_ID": "  "}, "API_KEY_SECRET_ID"),
        ({"API_KEY_SECRET_ID": "s", "GATEWAY_BASE_URL": "pgw.klogs.io"}, "GATEWAY_BASE_URL"),
        ({"API_KEY_SECRET_ID": "s", "GATEWAY_BASE_URL": "ftp://pgw.klogs.io"}, "GATEWAY_BASE_URL"),
        ({"API_KEY_SECRET_ID": "s", "GATEWAY_BASE_URL": "https://x/?a=1"}, "GATEWAY_BASE_URL"),
        ({"API_KEY_SECRET_ID": "s", "DEFAULT_PHONE_REGION": "Turkey"}, "DEFAULT_PHONE_REGION"),
        ({"API_KEY_SECRET_ID": "s", "DEFAULT_PHONE_REGION": "XX"}, "DEFAULT_PHONE_REGION"),
        ({"API_KEY_SECRET_ID": "s", "SECRET_CACHE_SECONDS": "five"}, "SECRET_CACHE_SECONDS"),
        ({"API_KEY_SECRET_ID": "s", "SECRET_CACHE_SECONDS": "-1"}, "SECRET_CACHE_SECONDS"),
        ({"API_KEY_SECRET_ID": "s", "MAX_BODY_BYTES": "0"}, "MAX_BODY_BYTES"),
        ({"API_KEY_SECRET_ID": "s", "MAX_BODY_BYTES": "99999999"}, "MAX_BODY_BYTES"),
        ({"API_KEY_SECRET_ID": "s", "GATEWAY_CONNECT_TIMEOUT": "0"}, "GATEWAY_CONNECT_TIMEOUT"),
        ({"API_KEY_SECRET_ID": "s", "GATEWAY_READ_TIMEOUT": "60"}, "GATEWAY_READ_TIMEOUT"),
        # A replay of a captured delivery must find its record: not shorter than Tally's 31 h and 5 minutes.
        ({**TABLE, "IDEMPOTENCY_TTL_SECONDS": "60"}, "IDEMPOTENCY_TTL_SECONDS"),
        ({**TABLE, "IDEMPOTENCY_TTL_SECONDS": "111899"}, "IDEMPOTENCY_TTL_SECONDS"),
        ({**TABLE, "PHONE_DEDUPLICATION_SECONDS": "111899"}, "PHONE_DEDUPLICATION_SECONDS"),
        ({**TABLE, "PHONE_DEDUPLICATION_SECONDS": "259199"}, "PHONE_DEDUPLICATION_SECONDS"),  # < the 72 h
        ({**TABLE, "PHONE_DEDUPLICATION_SECONDS": "week"}, "PHONE_DEDUPLICATION_SECONDS"),
        ({**TABLE, "PHONE_DEDUPLICATION_SECONDS": "0.5"}, "PHONE_DEDUPLICATION_SECONDS"),  # not a quiet "off"
        ({"API_KEY_SECRET_ID": "s", "PHONE_DEDUPLICATION_SECONDS": "604800"}, "PHONE_DEDUPLICATION_SECONDS"),
        ({"API_KEY_SECRET_ID": "s", "IDEMPOTENCY_TABLE": "t"}, "PHONE_KEY_SECRET_ID"),
        ({"API_KEY_SECRET_ID": "s", "REFUSED_RETENTION_DAYS": "-1"}, "REFUSED_RETENTION_DAYS"),
        ({"API_KEY_SECRET_ID": "s", "REFUSED_RETENTION_DAYS": "366"}, "REFUSED_RETENTION_DAYS"),
        ({"API_KEY_SECRET_ID": "s", "REFUSED_RETENTION_DAYS": "two weeks"}, "REFUSED_RETENTION_DAYS"),
        ({"API_KEY_SECRET_ID": "s", "REFUSED_BUCKET": "s3://owner-webhook-refused"}, "REFUSED_BUCKET"),
        ({"API_KEY_SECRET_ID": "s", "REFUSED_BUCKET": "Upper_Case"}, "REFUSED_BUCKET"),
        # Every delivery waits in the retry queue: without one, nothing could be forwarded.
        ({"API_KEY_SECRET_ID": "s", "QUEUE_EVERY_DELIVERY": "true"}, "QUEUE_EVERY_DELIVERY"),
        ({"API_KEY_SECRET_ID": "s", "QUEUE_EVERY_DELIVERY": "yes"}, "QUEUE_EVERY_DELIVERY"),
    ],
)
def test_invalid_settings_name_the_variable(environ: dict[str, str], variable: str) -> None:
    with pytest.raises(SettingError) as failure:
        load_settings(environ)
    assert failure.value.message.startswith(variable)
    assert failure.value.code == "invalid_setting"


def test_the_forwarder_and_the_gateways_ceiling() -> None:
    """docs/configuration.md: FORWARDER_FUNCTION, GATEWAY_CONCURRENCY, GATEWAY_RATE_PER_SECOND."""
    base = {"API_KEY_SECRET_ID": "s"}
    defaults = load_settings(base)
    assert (defaults.forwarder_function, defaults.gateway_concurrency, defaults.gateway_rate) == (None, None, None)
    ceiling = load_settings({**base, "GATEWAY_CONCURRENCY": "5"})  # the forwarder: paced, the rate its default
    assert (ceiling.gateway_concurrency, ceiling.gateway_rate) == (5, 20.0)
    arn = "arn:aws:lambda:eu-central-1:123456789012:function:stack-forwarder"
    for name in ("stack-forwarder", arn, f"{arn}:$LATEST", "123456789012:function:stack-forwarder"):
        assert load_settings({**base, "FORWARDER_FUNCTION": name}).forwarder_function == name


def test_queue_every_delivery_is_off_unless_true() -> None:
    """docs/configuration.md: QUEUE_EVERY_DELIVERY."""
    base = {"API_KEY_SECRET_ID": "s", "RETRY_QUEUE_URL": "http://127.0.0.1:1/123456789012/q"}
    assert [load_settings({**base, "QUEUE_EVERY_DELIVERY": value}).queue_every_delivery
            for value in ("", "false", "FALSE", "true", " True ")] == [False, False, False, True, True]  # fmt: skip


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("FORWARDER_FUNCTION", "two words"),
        ("FORWARDER_FUNCTION", "https://lambda.example.com/f"),
        ("GATEWAY_CONCURRENCY", "0"),
        ("GATEWAY_CONCURRENCY", "ten"),
        ("GATEWAY_RATE_PER_SECOND", "0"),
        ("GATEWAY_RATE_PER_SECOND", "9.99"),  # below the concurrency's default (10): no whole call each
        ("GATEWAY_ABANDONED_CALL_SECONDS", "41"),  # more than the forwarder's timeout can hold after a forward
        ("GATEWAY_ABANDONED_CALL_SECONDS", "-1"),
    ],
)
def test_an_invalid_forwarder_or_ceiling_is_named(variable: str, value: str) -> None:
    ceiling = {"GATEWAY_CONCURRENCY": "10"} if variable.startswith("GATEWAY_") else {}
    with pytest.raises(SettingError) as refused:
        load_settings({"API_KEY_SECRET_ID": "s", **ceiling, variable: value})
    assert refused.value.message.startswith(variable)


def test_a_rate_below_the_concurrency_is_refused_and_says_what_to_do() -> None:
    """docs/configuration.md: GATEWAY_RATE_PER_SECOND is at least GATEWAY_CONCURRENCY, where each instance's
    own pace can keep it; below, the instances could all call in the same second."""
    with pytest.raises(SettingError) as refused:
        load_settings({"API_KEY_SECRET_ID": "s", "GATEWAY_CONCURRENCY": "4", "GATEWAY_RATE_PER_SECOND": "3"})
    assert "GATEWAY_CONCURRENCY (4)" in refused.value.message and "lower GatewayConcurrency" in refused.value.message
    kept = load_settings({"API_KEY_SECRET_ID": "s", "GATEWAY_CONCURRENCY": "4", "GATEWAY_RATE_PER_SECOND": "4"})
    assert (kept.gateway_rate, kept.gateway_abandoned_call) == (4.0, 30.0)


def test_refusals_are_kept_with_a_bucket_for_14_days_and_none_with_0() -> None:
    """docs/configuration.md: REFUSED_BUCKET and REFUSED_RETENTION_DAYS (0 turns it off)."""
    base = {"API_KEY_SECRET_ID": "s"}
    assert not load_settings(base).keeps_refusals  # no bucket: nowhere to keep them
    kept = load_settings({**base, "REFUSED_BUCKET": "owner-webhook-dev-refusedbucket-1a2b3c"})
    assert kept.keeps_refusals and kept.refused_retention_days == 14
    off = load_settings({**base, "REFUSED_BUCKET": "owner-webhook-refused", "REFUSED_RETENTION_DAYS": "0"})
    assert not off.keeps_refusals
    assert load_settings({**base, "REFUSED_BUCKET": ""}).refused_bucket is None  # the template's value when off
