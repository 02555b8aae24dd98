"""`make serve`: the local stack in the foreground, for curl, `sam local invoke` and real tools."""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
import time

from sandbox.aws import LOCAL_SECRET, REFUSED_BUCKET, SECRETS
from sandbox.queue import poll_once
from sandbox.stack import Sandbox


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (0.0.0.0 for Docker on Linux)")
    parser.add_argument("--port", type=int, default=3000, help="the webhook endpoint (default 3000)")
    parser.add_argument("--aws-port", type=int, default=5001, help="the moto server (default 5001, as events/env.json)")
    parser.add_argument("--gateway-port", type=int, default=8081, help="the sandbox gateway (default 8081)")
    parser.add_argument(
        "--secret", choices=sorted(SECRETS), default="default", help="which local secret to seed (default: default)"
    )
    # make serve SERVE_ARGS="--port 3100": split as a shell would split them, without running anything.
    args = parser.parse_args([*shlex.split(os.environ.get("SERVE_ARGS", "")), *sys.argv[1:]])
    from owner_webhook.handler import lambda_handler

    ports = (args.port, args.aws_port, args.gateway_port)
    with Sandbox(handler=lambda_handler, host=args.host, ports=ports, queue=True) as sandbox:
        assert sandbox.endpoint is not None
        sandbox.aws.put_secret(SECRETS[args.secret])
        url = sandbox.endpoint.url
        token = LOCAL_SECRET["webhook_secrets"]["zapier"]
        body = json.dumps({"name": "Ayse", "phone": "0555 123 45 67"})
        print(f"owner-webhook:   {url}/webhooks/{{source}}")
        print(f"moto server:     {sandbox.aws.url}  (Secrets Manager, secret owner-webhook/local)")
        print(f"sandbox gateway: {sandbox.gateway.url}/owner")
        print(f"kept refusals:   bucket {REFUSED_BUCKET} (KMS-encrypted): make refused, make replay-refused")
        print("try:")
        print(f"  curl -s -X POST {url}/webhooks/zapier -H 'Authorization: Bearer {token}' \\")
        print(f"       -H 'Content-Type: application/json' -d '{body}'")
        print("The forwarder polls the queue every 2 s. Ctrl-C stops everything.", flush=True)
        from owner_webhook.forwarder import lambda_handler as forwarder

        try:
            while True:
                time.sleep(2)
                with sandbox.endpoint.instance():  # the forwarder is its own function; one process here
                    poll_once(sandbox.aws, sandbox.queue_url, forwarder)
        except KeyboardInterrupt:
            print()


if __name__ == "__main__":
    main()
