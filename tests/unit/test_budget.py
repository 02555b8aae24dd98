"""Time budgets, defined once (docs/guarantees.md, "Every call fits the time"): the reservations, the
figures the docs and the template's comment give, and the shortest timeout the settings accept."""

from __future__ import annotations

import re
import time

import pytest

from owner_webhook import budget
from owner_webhook.errors import SettingError
from owner_webhook.settings import Settings, load_settings
from tests.conftest import ROOT


def _forward_at_most(queue: bool) -> float:
    deadline = budget.Deadline.start(Settings.function_timeout, Settings.forward_budget, budget.after_forward(queue))
    return round(deadline.forward_by - time.monotonic(), 1)


def test_the_docs_and_the_template_give_the_forwards_time_as_the_budget_computes_it() -> None:
    with_queue = f"{_forward_at_most(queue=True):g} s"
    guarantees = (ROOT / "docs" / "guarantees.md").read_text()
    template = (ROOT / "template.yaml").read_text()
    comment = template[template.index("    # Of the timeout") : template.index("    Timeout: !Ref")]
    assert f"at most {with_queue} with the retry queue" in re.sub(r"[\s#]+", " ", comment)
    assert f"at most {with_queue}" in re.sub(r"\s+", " ", guarantees)
    assert f"{budget.minimum_timeout(queue=True):g} s" in guarantees


def _forward_through_the_forwarder_at_most() -> float:
    """The webhook keeps its reservation to queue; the forwarder is told the rest, less the invoke's round
    trip, and keeps its own to record the answer."""
    from owner_webhook.forwarder_client import INVOKE_SECONDS

    webhook = budget.Deadline.start(
        Settings.function_timeout, Settings.forward_budget, budget.after_forward(True, forwarder=True)
    )
    told = webhook.forward_by - time.monotonic() - INVOKE_SECONDS
    forwarder = budget.Deadline.start(told, Settings.forward_budget, budget.after_forward(False))
    return round(forwarder.forward_by - time.monotonic(), 1)


def test_the_docs_give_the_forwarders_time_as_the_budget_computes_it() -> None:
    guarantees = re.sub(r"\s+", " ", (ROOT / "docs" / "guarantees.md").read_text())
    assert f"the gateway gets at most {_forward_through_the_forwarder_at_most():g} s from the webhook" in guarantees


def test_the_forwarders_time_follows_from_the_figures_the_docs_give_beside_it() -> None:
    """docs/guarantees.md, "A burst": each figure of the sum is the budget's, and the sum is the time."""
    from owner_webhook.forwarder_client import INVOKE_SECONDS

    guarantees = re.sub(r"\s+", " ", (ROOT / "docs" / "guarantees.md").read_text())
    queue = budget.after_forward(True, forwarder=True).seconds
    webhook_allows = Settings.function_timeout - budget.REPLY_SECONDS - queue - budget.FORWARD_MARGIN_SECONDS
    assert Settings.forward_budget < webhook_allows  # the budget binds, not the webhook's timeout
    assert f"the {budget.REPLY_SECONDS:g} s kept to answer and the {queue:g} s kept to queue" in guarantees
    assert f"would allow {webhook_allows:g} s), less {INVOKE_SECONDS:g} s for the invocation" in guarantees
    figures = (Settings.forward_budget, INVOKE_SECONDS, budget.REPLY_SECONDS, budget.RECORD.seconds)
    figures += (budget.FORWARD_MARGIN_SECONDS,)
    assert f"({' − '.join(f'{figure:g}' for figure in figures)})" in guarantees
    assert round(figures[0] - sum(figures[1:]), 1) == _forward_through_the_forwarder_at_most()


def test_the_reservation_is_kept_from_the_start() -> None:
    # A slow start (a secret, a claim) shortens the forward; the reservation after it stays whole.
    deadline = budget.Deadline.start(10, 8, budget.QUEUE_AND_RELEASE)
    assert deadline.ends - deadline.reserved_from == pytest.approx(budget.QUEUE_AND_RELEASE.seconds)
    assert deadline.forward_by <= deadline.reserved_from - budget.FORWARD_MARGIN_SECONDS
    assert deadline.fits(budget.CLAIM)
    assert not budget.Deadline.start(3, 8, budget.QUEUE_AND_RELEASE).fits(budget.CLAIM)


@pytest.mark.parametrize("queue", [False, True])
def test_a_function_timeout_too_short_is_refused_when_settings_are_read(queue: bool) -> None:
    environ = {"API_KEY_SECRET_ID": "s", **({"RETRY_QUEUE_URL": "https://sqs.example.com/q"} if queue else {})}
    shortest = budget.minimum_timeout(queue)
    assert load_settings({**environ, "FUNCTION_TIMEOUT_SECONDS": f"{shortest}"}).function_timeout == shortest
    with pytest.raises(SettingError) as refused:
        load_settings({**environ, "FUNCTION_TIMEOUT_SECONDS": f"{shortest - 0.1}"})
    assert refused.value.message.startswith("FUNCTION_TIMEOUT_SECONDS")


def test_a_refusal_is_kept_in_the_time_reserved_for_queueing_which_a_refusal_never_spends() -> None:
    """docs/guarantees.md, "Every call fits the time": a refusal is never queued, so its store fits where the
    queueing would have been, after storing the gateway's refusal where this process stores it."""
    assert budget.KEEP.seconds <= budget.after_forward(True, forwarder=True).seconds  # the webhook, as deployed
    assert budget.RECORD.seconds + budget.KEEP.seconds <= budget.after_forward(True).seconds  # the forwarder's queue
