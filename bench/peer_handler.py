"""The Lambda a user would otherwise write for this job: the benchmark's peer. Not part of the product.

It has none of the product's guarantees: no signature checks, no deduplication, a regex for phones.
"""

import json
import os
import re

import boto3
import urllib3

http = urllib3.PoolManager()


def lambda_handler(event, context):  # type: ignore[no-untyped-def]
    secret = boto3.client("secretsmanager").get_secret_value(SecretId=os.environ["API_KEY_SECRET_ID"])
    api_key = json.loads(secret["SecretString"])["api_key"]
    phone = re.sub(r"[^\d+]", "", json.loads(event["body"]).get("phone", ""))
    if phone.startswith("0"):
        phone = "+90" + phone[1:]
    response = http.request(
        "POST",
        os.environ["GATEWAY_BASE_URL"] + "/owner",
        body=json.dumps({"phone": phone}),
        headers={"Authorization": f"Bearer {api_key}", "Content-Type": "application/json"},
        timeout=5,
    )
    return {"statusCode": response.status, "body": response.data.decode()}
