"""`make events`: sign the timestamped events in events/ again, so `sam local invoke` accepts them.

Webflow and Standard Webhooks signatures cover a timestamp and are refused after five minutes.
"""

from __future__ import annotations

import json

from sandbox.catalog import EVENTS, cases


def main() -> None:
    for case in cases():
        path = EVENTS / case.name
        if json.loads(path.read_text()) != case.event:
            path.write_text(json.dumps(case.event, indent=2, ensure_ascii=False) + "\n")
            print(f"signed again: events/{case.name} (valid for 5 minutes)")


if __name__ == "__main__":
    main()
