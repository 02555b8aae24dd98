"""Requests as each sender builds them, for any phone: the tests, the soak and the benchmark use these."""

from __future__ import annotations

import json
import uuid
from typing import Any
from urllib.parse import urlencode

from sandbox.aws import LOCAL_SECRET
from sandbox.events import HttpRequest
from sandbox.signing import sign

SOURCES = ("typeform", "tally", "webflow", "jotform", "zapier", "generic")
JSON_TYPE = {"content-type": "application/json"}


def payload(source: str, phone: Any, delivery_id: str) -> tuple[bytes, dict[str, str]]:
    """The body and headers `source` sends for one submission with this phone (None: no phone)."""
    if source == "typeform":
        answers: list[dict[str, Any]] = [{"type": "text", "text": "Ayşe", "field": {"id": "N", "ref": "name"}}]
        if phone is not None:
            answers.append({"type": "phone_number", "phone_number": phone, "field": {"id": "P", "ref": "phone"}})
        body = {
            "event_id": uuid.uuid4().hex,
            "event_type": "form_response",
            "form_response": {"token": delivery_id, "answers": answers},
        }
        return _json(body), dict(JSON_TYPE)
    if source == "tally":
        field = {"key": "question_p", "label": "Phone", "type": "INPUT_PHONE_NUMBER", "value": phone}
        return _json({"eventId": delivery_id, "eventType": "FORM_RESPONSE", "data": {"fields": [field]}}), dict(
            JSON_TYPE
        )
    if source == "webflow":
        data = {"Name": "Ayşe"} | ({"Phone Number": phone} if phone is not None else {})
        return _json({"triggerType": "form_submission", "payload": {"id": delivery_id, "data": data}}), dict(JSON_TYPE)
    if source == "jotform":
        answers_raw = {"slug": "submit/1"} | ({"q4_phoneNumber": {"full": phone}} if phone is not None else {})
        form = {"submissionID": delivery_id, "formID": "1", "rawRequest": json.dumps(answers_raw)}
        return urlencode(form).encode(), {"content-type": "application/x-www-form-urlencoded"}
    fields = {"name": "Ayşe"} | ({"phone": phone} if phone is not None else {})
    if source == "generic":
        return _json({"type": "signup.created", "data": fields}), {**JSON_TYPE, "idempotency-key": delivery_id}
    return _json(fields), {**JSON_TYPE, "idempotency-key": delivery_id}


def request(
    source: str, phone: Any = "0555 123 45 67", delivery_id: str | None = None, secret: str | None = None
) -> HttpRequest:
    """A signed (or token-carrying) POST /webhooks/{source}, as the real sender would send it now."""
    body, headers = payload(source, phone, delivery_id or uuid.uuid4().hex)
    unsigned = HttpRequest("POST", f"/webhooks/{source}", body, headers)
    return sign(source, unsigned, secret if secret is not None else LOCAL_SECRET["webhook_secrets"][source])


def _json(document: dict[str, Any]) -> bytes:
    return json.dumps(document, ensure_ascii=False).encode()
