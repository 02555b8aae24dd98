"""`make invoke EVENT=events/<file>.json [FUNCTION=ForwarderFunction]`: like `sam local invoke`, without
Docker. One event through the built artifact hosted by the Lambda runtime (sandbox.runtime), against the
local stand-ins; prints the function's log lines, the runtime's INIT REPORT and REPORT lines, and last the
function's answer, then stops everything.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from sandbox import catalog
from sandbox.aws import SECRETS
from sandbox.runtime import FUNCTIONS, function_runtime
from sandbox.stack import Sandbox


def load(path: Path) -> tuple[object, str]:
    """The event in `path`, signed again when it is one of events/ whose signature covers a timestamp,
    and which local secret it is signed with."""
    for case in catalog.cases():
        if (catalog.EVENTS / case.name).resolve() == path.resolve():
            return case.event, case.secret
    return json.loads(path.read_text()), "default"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("event", type=Path, help="an event file, such as events/zapier-success.json")
    parser.add_argument("--function", choices=sorted(FUNCTIONS), default="WebhookFunction")
    args = parser.parse_args()
    event, secret = load(args.event)
    with Sandbox(queue=True) as sandbox:
        sandbox.aws.put_secret(SECRETS[secret])
        with function_runtime(args.function, sandbox.environment()) as runtime:
            invocation = runtime.invoke(event)
    print(f"{args.function} on {args.event}, in the Lambda runtime interface emulator:", file=sys.stderr)
    for line in [*invocation.logs, invocation.init_report, invocation.report]:
        if line:
            print(line, file=sys.stderr)
    print(json.dumps(invocation.payload))
    if isinstance(invocation.payload, dict) and "errorType" in invocation.payload:
        sys.exit(1)  # the function failed (crashed or timed out), as opposed to answering


if __name__ == "__main__":
    main()
