"""The least any handler built on the function's libraries does for the benchmark's delivery: the library floor.
Not part of the product.

The same Zapier token delivery, through the same libraries, each used as its documentation shows: Powertools'
Logger (its own JSON formatter; the Lambda context on the line, as the function's lines have it) and Metrics
decorators, its parameters for the secret (cached), `hmac` for the token, `phonenumbers` to parse, validate and
write the number, urllib3's pool with a `Retry` and a `Timeout` (built once), one log line and one metric. None
of the product's own work: no recipes, no delivery id, no deadline, no mask by numbering plan, no answer but a
status. Whatever a warm request of the product costs over this is its own.
"""

import hmac
import json
import os

import phonenumbers
import urllib3
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities import parameters
from urllib3.util import Retry, Timeout

logger = Logger(service="library-floor")
metrics = Metrics(namespace="LibraryFloor", service="library-floor")
pool = urllib3.connection_from_url(os.environ["GATEWAY_BASE_URL"] + "/owner", maxsize=4)
TIMEOUT = Timeout(connect=1.0, read=5.0, total=8.0)
RETRY = Retry(total=4, connect=2, read=0, status=1, redirect=False, allowed_methods=None, backoff_factor=0.1)


@metrics.log_metrics(capture_cold_start_metric=True)
@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event, context):  # type: ignore[no-untyped-def]
    secret = parameters.get_secret(os.environ["API_KEY_SECRET_ID"], transform="json", max_age=300)
    token = event["headers"].get("authorization", "").removeprefix("Bearer ")
    if not hmac.compare_digest(token.encode(), secret["webhook_secrets"]["zapier"].encode()):
        return {"statusCode": 401}
    raw = json.loads(event["body"])["phone"]
    number = phonenumbers.parse(raw, "TR")
    if not phonenumbers.is_valid_number(number):
        return {"statusCode": 422}
    phone = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    response = pool.urlopen(
        "POST",
        "/owner",
        body=json.dumps({"phone": phone}).encode(),
        headers={"Authorization": f"Bearer {secret['api_key']}", "Content-Type": "application/json"},
        timeout=TIMEOUT,
        retries=RETRY,
    )
    logger.info("webhook answered", source="zapier", phone=phone[:6] + "*****" + phone[-2:], status=response.status)
    metrics.add_dimension(name="source", value="zapier")
    metrics.add_metric(name="OwnerCreated", unit=MetricUnit.Count, value=1)
    return {"statusCode": response.status}
