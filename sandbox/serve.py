"""`make serve`: the local stack in the foreground, for curl and for pointing a real tool at it."""

from __future__ import annotations

import argparse
import json
import time

from sandbox.aws import LOCAL_SECRET
from sandbox.endpoint import LocalEndpoint
from sandbox.stack import Sandbox


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=3000, help="port of the webhook endpoint (default 3000)")
    args = parser.parse_args()
    from owner_webhook.handler import lambda_handler

    with Sandbox() as sandbox:
        endpoint = LocalEndpoint(lambda_handler, port=args.port).start()
        token = LOCAL_SECRET["webhook_secrets"]["zapier"]
        body = json.dumps({"name": "Ayse", "phone": "0555 123 45 67"})
        print(f"owner-webhook on {endpoint.url}/webhooks/{{source}}")
        print(f"  moto server: {sandbox.aws.url}   sandbox gateway: {sandbox.gateway.url}")
        print("try:")
        print(
            f"  curl -s -X POST {endpoint.url}/webhooks/zapier -H 'Authorization: Bearer {token}' "
            f"-H 'Content-Type: application/json' -d '{body}'"
        )
        print("Ctrl-C stops everything.", flush=True)
        try:
            while True:
                time.sleep(1)
        except KeyboardInterrupt:
            pass
        finally:
            endpoint.stop()


if __name__ == "__main__":
    main()
