"""`make local-secret`: change the secret of a running `make serve` (owner-webhook/local on its moto server), as a
rotation changes a deployed one, without a script.

    make local-secret SOURCE=shopify                 # asks for shopify's new webhook secret (not echoed)
    make local-secret SOURCE=shopify KEEP_OLD=1      # the new one beside the current one(s): any one verifies
    make local-secret API_KEY=<key>                  # the gateway key
    make local-secret                                # what it holds: each route and how many secrets, no value

SECRET may give the new webhook secret in the environment instead. make serve reads its secret on every request
(SECRET_CACHE_SECONDS=0), so the next delivery uses it. Values come from the environment, never through a shell;
no secret is printed.
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
from collections.abc import Iterator, Mapping
from typing import Any, TextIO

from botocore.exceptions import ClientError, EndpointConnectionError

from sandbox.aws import SECRET_ID
from tools.stack import LOCAL_ENDPOINT, LocalSession, ToolError, code, run

_YES = ("1", "true", "yes")


def read(secrets: Any, endpoint: str) -> dict[str, Any]:
    """The local secret's JSON; raises ToolError."""
    try:
        document = json.loads(secrets.get_secret_value(SecretId=SECRET_ID)["SecretString"])
    except EndpointConnectionError:
        where = f"no local stack answers on {endpoint}"
        raise ToolError(f"{where}: start `make serve`, or give ENDPOINT=<its moto server>") from None
    except ClientError as error:
        raise ToolError(f"the local stack on {endpoint} has no secret {SECRET_ID} ({code(error)})") from None
    if not isinstance(document, dict):
        raise ToolError(f"{SECRET_ID} is not a JSON object: start make serve again")
    return document


def changed(
    document: dict[str, Any], *, source: str | None, secret: str, keep_old: bool, api_key: str | None
) -> tuple[dict[str, Any], str]:
    """The secret with the change made, and what changed (no value); raises ToolError."""
    if api_key is not None:
        return {**document, "api_key": api_key}, "api_key: the gateway key replaced"
    assert source is not None
    secrets = dict(document.get("webhook_secrets") or {})
    current = secrets.get(source)
    old = [current] if isinstance(current, str) else list(current or [])
    values = [*[value for value in old if value != secret], secret] if keep_old else [secret]
    secrets[source] = values[0] if len(values) == 1 else values
    kept = f", beside {len(values) - 1} kept" if len(values) > 1 else ""
    return {**document, "webhook_secrets": secrets}, f"webhook_secrets.{source}: a new secret{kept}"


def held(document: Mapping[str, Any]) -> Iterator[str]:
    """What the secret holds: each route and how many secrets (never a value)."""
    yield f"{SECRET_ID}: api_key set" if document.get("api_key") else f"{SECRET_ID}: no api_key"
    for source, value in sorted((document.get("webhook_secrets") or {}).items()):
        count = 1 if isinstance(value, str) else len(value)
        yield f"  webhook_secrets.{source}: {count} secret" + ("s (any one verifies)" if count > 1 else "")


def asked(environ: Mapping[str, str], stdin: TextIO, source: str) -> str:
    given = environ.get("SECRET", "")
    if given:
        return given
    if not stdin.isatty():
        raise ToolError("give SECRET in the environment (SECRET=... make local-secret SOURCE=...), or run it in a tty")
    typed = getpass.getpass(f"new webhook secret of {source} (not echoed): ")
    if not typed.strip():
        raise ToolError("no secret typed: nothing changed")
    return typed


def main(argv: list[str] | None = None, environ: Mapping[str, str] | None = None, stdin: TextIO | None = None) -> int:
    env = os.environ if environ is None else environ
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--source", default=env.get("SOURCE") or None, help="the route whose webhook secret changes")
    parser.add_argument("--keep-old", action="store_true", default=env.get("KEEP_OLD", "").lower() in _YES)
    parser.add_argument("--endpoint", default=env.get("ENDPOINT") or LOCAL_ENDPOINT, help="make serve's moto server")
    args = parser.parse_args(argv)
    api_key = env.get("API_KEY") or None

    def lines() -> Iterator[str]:
        secrets = LocalSession(args.endpoint).client("secretsmanager")
        document = read(secrets, args.endpoint)
        if args.source is None and api_key is None:
            yield from held(document)
            return
        if args.source is not None and api_key is not None:
            raise ToolError("give SOURCE (a webhook secret) or API_KEY (the gateway key), not both")
        secret = "" if api_key is not None else asked(env, sys.stdin if stdin is None else stdin, str(args.source))
        new, what = changed(document, source=args.source, secret=secret, keep_old=args.keep_old, api_key=api_key)
        secrets.put_secret_value(SecretId=SECRET_ID, SecretString=json.dumps(new))
        yield f"{what} in {SECRET_ID} of the local stack on {args.endpoint}: make serve uses it from the next request"

    return run(lines)


if __name__ == "__main__":
    sys.exit(main())
