"""Typeform: `Typeform-Signature: sha256=<base64 HMAC-SHA256 of the body>`; the phone_number answer."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from owner_webhook.request import JSON, WebhookRequest, read_fields
from owner_webhook.sources import signatures
from owner_webhook.sources.fields import as_text, at, id_at


class Typeform:
    name = "typeform"
    acknowledges_refusals = True
    retries = True

    def __init__(self, phone_ref: str | None = None) -> None:
        # A form with several phone questions names the one to use by its field.ref (TYPEFORM_PHONE_REF).
        self._phone_ref = phone_ref

    def verify(self, request: WebhookRequest, secret: str) -> None:
        expected = "sha256=" + signatures.b64(signatures.hmac_sha256(secret.encode(), request.body))
        signatures.require_match(request.header("typeform-signature"), expected, "Typeform-Signature")

    def read(self, request: WebhookRequest) -> Mapping[str, Any]:
        return read_fields(request, accept=(JSON,))

    def find_phone(self, payload: Mapping[str, Any]) -> str | None:
        answers = at(payload, "form_response", "answers")
        for answer in answers if isinstance(answers, list) else []:
            if not isinstance(answer, Mapping) or answer.get("type") != "phone_number":
                continue
            if self._phone_ref is None or at(answer, "field", "ref") == self._phone_ref:
                return as_text(answer.get("phone_number"))
        return None

    def delivery_id(self, request: WebhookRequest, payload: Mapping[str, Any]) -> str:
        return id_at(payload, "form_response", "token") or request.body_digest
