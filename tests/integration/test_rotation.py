"""Rotating a webhook secret while deliveries flow: the old and the new one both verify meanwhile, none fails."""

from __future__ import annotations

import pytest

from sandbox import senders
from sandbox.aws import LOCAL_SECRET
from sandbox.events import http_api_event
from sandbox.stack import Sandbox
from tests.integration.conftest import invoke_event

OLD, NEW = "old-secret-of-this-sender-0001", "new-secret-of-this-sender-0002"


@pytest.mark.parametrize("source", ["shopify", "stripe", "hubspot", "paperform", "wufoo", "zapier"])
def test_a_secret_rotated_while_deliveries_flow(sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch, source: str) -> None:
    monkeypatch.setenv("SECRET_CACHE_SECONDS", "0")  # each request reads the secret as it is now

    def entry(value: str | list[str]) -> None:
        sandbox.aws.put_secret({**LOCAL_SECRET, "webhook_secrets": {**LOCAL_SECRET["webhook_secrets"], source: value}})

    # The steps of docs/senders.md: both; then the sender switches; then the old one goes.
    steps = [(OLD, OLD)] * 3 + [([OLD, NEW], OLD)] * 3 + [([OLD, NEW], NEW)] * 3 + [(NEW, NEW)] * 3
    for number, (configured, signing) in enumerate(steps):
        entry(configured)
        request = senders.request(source, f"+90 555 123 50 {number:02d}", delivery_id=f"rot-{number}", secret=signing)
        assert invoke_event(http_api_event(request)).code == "owner_created", (number, configured, signing)
    assert len(sandbox.gateway.owners) == len(steps)
    request = senders.request(source, "+90 555 123 50 99", secret=OLD)  # and the old one no longer verifies
    assert invoke_event(http_api_event(request)).code == "unauthenticated"
