"""A warm function reads the secret (and the phone key) once per max age, not per request.

The promise: docs/configuration.md (`SECRET_CACHE_SECONDS`).
"""

from __future__ import annotations

import pytest

from sandbox.stack import Sandbox
from tests.integration.conftest import webhook


def test_fifty_warm_requests_read_the_secret_at_most_once(sandbox: Sandbox) -> None:
    before = sandbox.aws.secret_reads()
    answers = [webhook("zapier", {"phone": f"0555 123 45 {i:02d}"}).status for i in range(50)]
    assert answers == [200] * 50
    assert sandbox.aws.secret_reads() - before == 2  # the secret and the phone key, once each
    assert len(sandbox.gateway.owners) == 50


def test_the_max_age_is_a_setting(sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SECRET_CACHE_SECONDS", "0")
    before = sandbox.aws.secret_reads()
    for _ in range(3):
        assert webhook("zapier").status == 200
    assert sandbox.aws.secret_reads() - before == 6  # the secret and the phone key, every time
