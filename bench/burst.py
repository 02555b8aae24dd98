"""`make bench`, the burst: a signup campaign's full burst soak, and which of its targets are met.

2,000 distinct phones and 10 % more deliveries of them, from Jotform and Zapier (senders that never
retry), from 20 webhook instances at once, sent within 20 seconds, against a sandbox gateway that
answers 429 above 10 requests per second and slows down above 5 at once; the deployment's ceiling set
to the same. The built artifact runs in the functions when `make build` made one (as deployed), src/
otherwise. Prints a table, the drain time, the gateway's peak rate and the function's cost per
delivery, and one JSON line.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

from bench.table import print_table

ROOT = Path(__file__).resolve().parent.parent
ARTIFACT = ROOT / ".aws-sam" / "build" / "WebhookFunction"


def main() -> None:
    if (ARTIFACT / "owner_webhook" / "handler.py").is_file():
        sys.path.insert(0, str(ARTIFACT))  # before anything imports the function: the instances inherit the path
    from sandbox import burst
    from sandbox.stack import Sandbox

    started = time.monotonic()
    with Sandbox(queue=True, separate_aws=True) as sandbox:
        figures = burst.run(sandbox, burst.Plan())
    figures["seconds"] = round(time.monotonic() - started, 1)
    report(figures)


def targets(f: dict[str, Any]) -> list[tuple[str, str, str, bool]]:
    ceiling = f["gateway_ceiling"]
    return [
        ("deliveries sent (phones), from instances at once", f"{f['deliveries']} ({f['phones']}), {f['instances']}",
         ">= 2,200 (2,000), 20", f["deliveries"] >= 2200 and f["phones"] >= 2000 and f["instances"] >= 20),
        ("sent within (the last delivery's request)", f"{f['sent_in_s']} s", "<= 20 s", f["sent_in_s"] <= 20),
        ("lost phones", str(f["lost"]), "0", f["lost"] == 0),
        ("duplicates / possible duplicates counted", f"{f['duplicates']} / {f['possible_duplicates_counted']}",
         "dups <= counted", f["duplicates"] <= f["possible_duplicates_counted"]),
        ("gateway's peak rate (requests in any second)", str(f["gateway_peak_rate"]), f"<= {ceiling['rate']}",
         f["gateway_peak_rate"] <= ceiling["rate"]),
        ("gateway's peak requests at once", str(f["gateway_peak_in_flight"]), f"<= {ceiling['in_flight']}",
         f["gateway_peak_in_flight"] <= ceiling["in_flight"]),
        ("slowest answer to a sender", f"{f['answer_max_s']} s", "< the function's 10 s", f["answer_max_s"] < 10),
        ("answers that are not 2xx or 409", str(_refused(f)), "0", _refused(f) == 0),
        ("retry queue / dead-letter queue at the end", f"{f['retry_queue']} / {f['dead_letters']}", "0 / 0",
         f["retry_queue"] == 0 and f["dead_letters"] == 0),
    ]  # fmt: skip


def _refused(f: dict[str, Any]) -> int:
    return sum(count for answer, count in f["answers"].items() if not answer.startswith(("200", "409")))


def report(f: dict[str, Any]) -> None:
    rows = targets(f)
    print(f"\nowner-webhook burst soak ({f['seconds']} s)\n")
    print_table([("target", "measured", "target", "met"), *[(n, m, t, "yes" if ok else "NO") for n, m, t, ok in rows]])
    print()
    print(f"answers: {', '.join(f'{n} {answer}' for answer, n in sorted(f['answers'].items()))}")
    print(
        f"gateway: {f['gateway_requests']} requests for {f['owners']} owners ({f['requests_per_owner']} per owner), "
        f"answers {f['gateway_answers']}"
    )
    print(f"burst: the last delivery sent at {f['sent_in_s']} s, answered at {f['answered_in_s']} s")
    print(f"drain time: {f['drain_s']} s after the burst (drained: {'yes' if f['drained'] else 'NO'})")
    print(f"gateway peak rate: {f['gateway_peak_rate']} requests in one second")
    print(
        f"function cost per delivery: {f['billed_gb_s_per_delivery']:.6f} GB-s billed (webhook "
        f"{f['webhook_billed_ms_mean']} ms and forwarder {f['forwarder_billed_ms_mean']} ms per invocation, "
        f"256 MB): ${f['lambda_usd_per_million_deliveries']} per million deliveries with Lambda's requests"
    )
    f["targets_met"] = all(ok for *_, ok in rows)
    f["targets"] = {name: ok for name, _, _, ok in rows}
    print("\n" + json.dumps(f))


if __name__ == "__main__":
    main()
