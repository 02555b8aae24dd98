"""The burst soak, short form (docs/guarantees.md, "A burst"; its full form is `make bench`).

Senders that never retry (Jotform, Zapier) send a campaign's burst of distinct phones, a tenth of them
twice, to several webhook instances at once, within seconds, through the Lambda stand-in. The gateway
answers 429 above its rate and slows down above its concurrency, limits it does not document; the
deployment's ceiling is set to them, and the forwarder is the only code that calls the gateway, from
the webhook or from the retry queue. The figures are printed (`pytest -s`); docs/performance.md quotes
a run of the full form.
"""

from __future__ import annotations

import json

from sandbox import burst
from sandbox.gateway import Ceiling
from sandbox.stack import Sandbox

CEILING = Ceiling(rate=50, in_flight=3, retry_after=1)
SHORT = burst.Plan(
    phones=200,
    instances=4,
    seconds=2.0,
    ceiling=CEILING,
    gateway_concurrency=CEILING.in_flight,
    gateway_rate=CEILING.rate,
    drain_timeout=90.0,
    environment={"RETRY_DELAY_SECONDS": "2"},  # a short burst: a message that failed is tried again soon
)


def test_a_burst_loses_nothing_and_never_floods_the_gateway(sandbox: Sandbox) -> None:
    figures = burst.run(sandbox, SHORT)
    print("\nburst soak:", json.dumps(figures))

    assert figures["deliveries"] == 220 and figures["phones"] == 200
    assert figures["lost"] == 0  # although no sender retried
    assert figures["duplicates"] <= figures["possible_duplicates_counted"]
    # The gateway never saw more than its ceiling, so it was asked once per owner.
    assert figures["gateway_peak_rate"] <= CEILING.rate
    assert figures["gateway_peak_in_flight"] <= CEILING.in_flight
    assert figures["gateway_answers"] == {"200": figures["owners"]}
    # Every delivery was taken: created, existing or queued (409 only while its phone's owner was being created).
    assert {answer.split()[0] for answer in figures["answers"]} <= {"200", "409"}
    assert figures["function_errors"] == figures["webhook_throttled"] == 0
    assert figures["answer_max_s"] < SHORT.webhook_timeout
    assert figures["drained"]
    assert figures["retry_queue"] == figures["dead_letters"] == 0
