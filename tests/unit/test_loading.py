"""`loading()`: no cyclic collection while a handler's modules load, and the collector back after."""

from __future__ import annotations

import gc
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import owner_webhook
from owner_webhook import loading


@pytest.fixture
def collector_on() -> Iterator[None]:
    gc.enable()
    yield
    gc.enable()


def test_collection_pauses_inside_and_resumes_after(collector_on: None) -> None:
    frozen = gc.get_freeze_count()
    with loading():
        assert not gc.isenabled()
    assert gc.isenabled()
    assert gc.get_freeze_count() >= frozen


def test_collection_resumes_when_an_import_fails(collector_on: None) -> None:
    with pytest.raises(ImportError), loading():
        raise ImportError("no module named 'missing'")
    assert gc.isenabled()


def test_a_collector_switched_off_before_stays_off(collector_on: None) -> None:
    gc.disable()
    with loading():
        pass
    assert not gc.isenabled()


def _fresh_import(module: str, then: str, environment: dict[str, str]) -> list[str]:
    """Import `module` in a new interpreter with only `environment` configured; print `then`."""
    package_root = str(Path(owner_webhook.__file__).parent.parent)  # src/, or the built artifact
    unconfigured = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "API_KEY", "GATEWAY", "IDEM"))}
    done = subprocess.run(
        [sys.executable, "-c", f"import gc, {module}; from owner_webhook import wiring; print({then})"],
        capture_output=True,
        text=True,
        check=True,
        env={**unconfigured, **environment, "PYTHONPATH": package_root, "AWS_CONFIG_FILE": os.devnull},
        timeout=60,
    )
    return done.stdout.split()


CONFIGURED = {
    "API_KEY_SECRET_ID": "owner-webhook/test",
    "GATEWAY_BASE_URL": "http://127.0.0.1:9",
    "AWS_REGION": "eu-central-1",
    "AWS_DEFAULT_REGION": "eu-central-1",  # Lambda sets both; botocore reads this one
    "IDEMPOTENCY_TABLE": "owner-webhook-test",
    "PHONE_KEY_SECRET_ID": "owner-webhook/test-phone-key",
}


@pytest.mark.parametrize("module", ["owner_webhook.handler", "owner_webhook.worker"])
def test_a_fresh_handler_import_leaves_the_collector_on_and_the_modules_frozen(module: str) -> None:
    assert _fresh_import(module, "gc.isenabled(), gc.get_freeze_count() > 10_000", CONFIGURED) == ["True", "True"]


@pytest.mark.parametrize("module", ["owner_webhook.handler", "owner_webhook.worker"])
def test_a_handler_builds_its_services_on_import_when_the_configuration_allows(module: str) -> None:
    assert _fresh_import(module, "wiring.services.cache_info().currsize", CONFIGURED) == ["1"]


@pytest.mark.parametrize("module", ["owner_webhook.handler", "owner_webhook.worker"])
def test_a_configuration_problem_is_left_to_the_first_request(module: str) -> None:
    # No secret named: the import still succeeds, builds nothing, and the first request answers why.
    unconfigured = {k: v for k, v in CONFIGURED.items() if k != "API_KEY_SECRET_ID"}
    assert _fresh_import(module, "wiring.services.cache_info().currsize", unconfigured) == ["0"]
