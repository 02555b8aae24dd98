"""The gateway's answers by class, one row each (docs/answers.md, "The gateway's answers"): every status
from 100 to 999 falls in the class the docs give it, and a status no row names in the explicit unknown row."""

from __future__ import annotations

import pytest

from owner_webhook.gateway import GatewayStatus, classify


def documented(status: int) -> GatewayStatus:
    """docs/answers.md's table, written out again as prose would read it."""
    if 200 <= status <= 299:
        return GatewayStatus.CREATED
    if status in (401,):
        return GatewayStatus.UNAUTHORIZED
    if status in (403,):
        return GatewayStatus.FORBIDDEN
    if 300 <= status <= 399 or status in (404, 405):
        return GatewayStatus.MISDIRECTED
    if status == 429:
        return GatewayStatus.THROTTLED
    if status == 408 or 500 <= status <= 599:
        return GatewayStatus.FAILED
    if 400 <= status <= 499:
        return GatewayStatus.REJECTED
    return GatewayStatus.FAILED  # anything else: transient


def test_every_status_is_in_its_documented_class() -> None:
    wrong = {status: classify(status) for status in range(100, 1000) if classify(status) != documented(status)}
    assert not wrong


@pytest.mark.parametrize(
    ("status", "kind"),
    [(201, GatewayStatus.CREATED), (204, GatewayStatus.CREATED), (302, GatewayStatus.MISDIRECTED),
     (404, GatewayStatus.MISDIRECTED), (405, GatewayStatus.MISDIRECTED), (409, GatewayStatus.REJECTED),
     (410, GatewayStatus.REJECTED), (422, GatewayStatus.REJECTED), (408, GatewayStatus.FAILED),
     (429, GatewayStatus.THROTTLED), (699, GatewayStatus.FAILED), (102, GatewayStatus.FAILED)],
)  # fmt: skip
def test_the_cases_the_issue_named(status: int, kind: GatewayStatus) -> None:
    assert classify(status) == kind
