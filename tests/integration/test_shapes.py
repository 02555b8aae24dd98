"""One code path for HTTP API 2.0, REST API 1.0 and Function URL events, bodies as each sends them
(docs/guarantees.md, "How a request is handled", step 1)."""

from __future__ import annotations

import json

import pytest

from sandbox.local_secrets import webhook_secret
from sandbox.stack import Sandbox
from tests.integration.conftest import SHAPES, webhook


@pytest.mark.parametrize("shape", sorted(SHAPES))
@pytest.mark.parametrize("source", ["zapier", "generic"])
@pytest.mark.parametrize("form", [False, True])
def test_every_shape_and_body_type_forwards(sandbox: Sandbox, shape: str, source: str, form: bool) -> None:
    answer = webhook(source, {"Phone Number": "+90 (555) 123-45-67"}, form=form, shape=shape)
    assert answer.status == 200
    assert [json.loads(r.body) for r in sandbox.gateway.received] == [{"phone": "+905551234567"}]


FORM = "application/x-www-form-urlencoded"


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_header_names_match_whatever_their_case(sandbox: Sandbox, shape: str) -> None:
    answer = webhook(
        "zapier",
        token=None,
        headers={"X-WEBHOOK-TOKEN": webhook_secret("zapier"), "CONTENT-TYPE": "application/json"},
        shape=shape,
    )
    assert answer.status == 200


def test_generic_finds_the_phone_inside_data(sandbox: Sandbox) -> None:
    assert webhook("generic", {"type": "signup.created", "data": {"id": "u1", "mobile": "05551234567"}}).status == 200
    assert sandbox.gateway.owners == ["+905551234567"]


def test_webhook_number_fields_are_accepted(sandbox: Sandbox) -> None:
    assert webhook("zapier", {"phone": 905551234567}).status == 200
    assert sandbox.gateway.owners == ["+905551234567"]
