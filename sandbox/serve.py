"""`make serve`: the local stack in the foreground, for `make send`, curl, `sam local invoke` and real tools.

The webhook function runs on `--instances` instances, each a process of its own taking one request at a time, as
Lambda runs concurrent requests: two deliveries at once are handled at once (and race on the table as deployed).
The forwarder (the retry queue, and the Invoke API of `make replay-refused`) runs in this process. The banner
names every route with its local secret (sandbox/local_secrets.py) and a `make send` line for it. The recipes'
folder is watched: a recipe added, changed or removed is served from the next request after it is seen (about
half a second), with its local secret added to the secret; the owners, the table, the queues and the kept
refusals stay as they are. make serve reads its secret on every request (SECRET_CACHE_SECONDS=0), so a secret
changed with `make local-secret` is used at once.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import signal
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sandbox import local_secrets
from sandbox.aws import REFUSED_BUCKET, SECRET_ID
from sandbox.endpoint import Handler, LocalEndpoint
from sandbox.lambda_service import FunctionConfig, LocalFunction
from sandbox.queue import poll_once
from sandbox.stack import FORWARDER_FUNCTION, Sandbox, invoked_forwarder, new_instance

DEFAULT_PORT = 3000
WATCH_SECONDS = 0.5  # how often the recipes' folder is looked at
POLL_SECONDS = 2.0  # how often the forwarder polls the retry queue
SECRETS = ("default", "standard-webhooks")  # the latter: generic signed by Standard Webhooks (whsec_)
FUNCTION_TIMEOUT = 10.0  # the template's


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (0.0.0.0 for Docker on Linux)")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help="the webhook endpoint (default 3000)")
    parser.add_argument("--aws-port", type=int, default=5001, help="the moto server (default 5001, as events/env.json)")
    parser.add_argument("--gateway-port", type=int, default=8081, help="the sandbox gateway (default 8081)")
    parser.add_argument("--secret", choices=SECRETS, default="default", help="which local secret to seed")
    parser.add_argument("--instances", type=int, default=4, help="webhook instances, requests at once (default 4)")
    parser.add_argument(
        "--recipes",
        default=os.environ.get("RECIPES") or None,
        help="the folder of your recipes (default src/owner_webhook/recipes, or make's RECIPES)",
    )
    # make serve SERVE_ARGS="--port 3100": split as a shell would split them, without running anything.
    args = parser.parse_args([*shlex.split(os.environ.get("SERVE_ARGS", "")), *sys.argv[1:]])
    signal.signal(signal.SIGTERM, _interrupted)  # stopped as by Ctrl-C: its instances stop with it
    from owner_webhook import sources

    if args.recipes:
        sources.RECIPES = Path(args.recipes).resolve()  # what this process's forwarder reads, and each instance
    folder = sources.RECIPES
    ports = (args.port, args.aws_port, args.gateway_port)
    with Sandbox(host=args.host, ports=ports, queue=True, environment={"SECRET_CACHE_SECONDS": "0"}) as sandbox:
        seen = _listing(folder)  # before the recipes are read: a change from now on is taken in
        routes = sources.load(folder)
        seeded = _secrets(routes, args.secret)
        sandbox.aws.put_secret(local_secrets.document({}) | {"webhook_secrets": seeded})
        environment = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join(sys.path),
            "PYTHONDONTWRITEBYTECODE": "1",
            "SANDBOX_RECIPES": str(folder),
        }
        handler = "owner_webhook.handler.lambda_handler"
        config = FunctionConfig("owner-webhook", handler, args.instances, FUNCTION_TIMEOUT)
        webhook = LocalFunction(config, environment, echo=True)
        webhook.start()
        functions = {FORWARDER_FUNCTION: invoked_forwarder}
        endpoint = LocalEndpoint(pooled(webhook), args.host, args.port, functions, one_at_a_time=False).start()
        try:
            print("\n".join(banner(endpoint.url, sandbox, routes, seeded, args.instances, folder)), flush=True)
            _run(sandbox, endpoint, webhook, folder, seeded, seen)
        except KeyboardInterrupt:
            print()
        finally:
            endpoint.stop()
            webhook.stop()


def pooled(function: LocalFunction) -> Handler:
    """The webhook function as API Gateway invokes it: on a free instance, each taking one event at a time."""

    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        instance = function.acquire(wait=function.config.timeout)
        if instance is None:  # every instance stayed busy: what API Gateway answers a throttled integration
            return {"statusCode": 503, "body": json.dumps({"message": "Service Unavailable"})}
        try:
            payload, error = function.run(instance, json.dumps(event).encode(), "invoke")
        finally:
            function.release(instance)
        if error:  # the function crashed or timed out: API Gateway's answer
            return {"statusCode": 500, "body": json.dumps({"message": "Internal Server Error"})}
        result: dict[str, Any] = json.loads(payload)
        return result

    return handler


def _secrets(routes: Mapping[str, Any], variant: str) -> dict[str, Any]:
    secrets: dict[str, Any] = local_secrets.document(routes)["webhook_secrets"]
    if variant == "standard-webhooks":
        secrets["generic"] = local_secrets.STANDARD_WEBHOOKS
    return secrets


def banner(
    url: str, sandbox: Sandbox, routes: Mapping[str, Any], secrets: Mapping[str, Any], instances: int, folder: Path
) -> list[str]:
    lines = [
        f"owner-webhook:   {url}/webhooks/{{source}}  ({instances} instances: requests at once, as Lambda runs them)",
        f"moto server:     {sandbox.aws.url}  (Secrets Manager, secret {SECRET_ID}; read on every request)",
        f"sandbox gateway: {sandbox.gateway.url}/owner",
        f"kept refusals:   bucket {REFUSED_BUCKET} (KMS-encrypted): make refused, make replay-refused",
        "",
        "Every route, its local secret or token (sandbox/local_secrets.py; local only), and a signup sent as its",
        "sender signs it (add BODY=<file> to send your own payload, DRY_RUN=1 to create nothing):",
    ]
    lines += _table([_row(url, name, source, secrets, folder) for name, source in routes.items()])
    lines += [
        "",
        f"Recipes in {folder} are served from the next request after they change; the owners, the table and the",
        "queues stay. The forwarder polls the queue every 2 s. Ctrl-C stops everything.",
    ]
    return lines


def _row(url: str, name: str, source: Any, secrets: Mapping[str, Any], folder: Path) -> tuple[str, str, str]:
    if getattr(source, "recipe", None) is None:  # an invalid recipe: its route answers 503 invalid_setting
        fix = f"make check-recipe NAME={name} BODY=<file>{_recipes(folder)}"
        return name, f"invalid: {getattr(source, 'problem', '')}", fix
    secret = secrets.get(name)
    other = secret if secret != local_secrets.webhook_secret(name, source) else None  # --secret standard-webhooks
    return name, str(secret), _send(url, name, folder, other)


def _send(url: str, name: str, folder: Path, secret: Any = None) -> str:
    """The make send line for a route, with what it needs besides: another port, folder of recipes or secret."""
    command = f"make send SOURCE={name}"
    if url != f"http://127.0.0.1:{DEFAULT_PORT}":
        command += f" URL={url}/webhooks/"
    command += _recipes(folder)
    return command + (f" SECRET={secret}" if secret is not None else "")


def _recipes(folder: Path) -> str:
    from owner_webhook import sources

    bundled = Path(sources.__file__).resolve().parent.parent / "recipes"
    return "" if folder == bundled else f" RECIPES={folder}"


def _table(rows: list[tuple[str, str, str]]) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(2)]
    return [f"  {a.ljust(widths[0])}  {b.ljust(widths[1])}  {c}" for a, b, c in rows]


def _interrupted(*_: Any) -> None:
    raise KeyboardInterrupt


def _run(
    sandbox: Sandbox,
    endpoint: LocalEndpoint,
    webhook: LocalFunction,
    folder: Path,
    seeded: dict[str, Any],
    seen: dict[str, tuple[int, int]],
) -> None:
    """Until Ctrl-C: the recipes' folder watched (from `seen`, as it was when read), the queue polled."""
    from owner_webhook.forwarder import lambda_handler as forwarder

    polled = time.monotonic()
    while True:
        time.sleep(WATCH_SECONDS)
        now = _listing(folder)
        if now != seen:
            for line in _reload(sandbox, endpoint, webhook, folder, seeded, seen, now):
                print(line, flush=True)
            seen = now
        if time.monotonic() - polled >= POLL_SECONDS:
            polled = time.monotonic()
            with endpoint.instance():  # the forwarder is its own function; one process here
                poll_once(sandbox.aws, sandbox.queue_url, forwarder)


def _listing(folder: Path) -> dict[str, tuple[int, int]]:
    """Each recipe file of the folder by name, with its size and modification time: what changes when it does."""
    found = {}
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        try:
            status = path.stat()
            found[path.name] = (status.st_size, status.st_mtime_ns)
        except OSError:  # a link to nothing, gone meanwhile: the registry says what it is
            found[path.name] = (-1, -1)
    return found


def _reload(
    sandbox: Sandbox,
    endpoint: LocalEndpoint,
    webhook: LocalFunction,
    folder: Path,
    seeded: dict[str, Any],
    before: Mapping[str, tuple[int, int]],
    now: Mapping[str, tuple[int, int]],
) -> list[str]:
    """A changed folder taken in: the secret first (a new route's local secret), then every instance told to read
    the recipes again before its next request; what changed, said."""
    from owner_webhook import sources

    with endpoint.instance():
        new_instance()  # this process's forwarder
        routes = sources.load(folder)
    document = json.loads(sandbox.aws.client("secretsmanager").get_secret_value(SecretId=SECRET_ID)["SecretString"])
    secrets = dict(document.get("webhook_secrets") or {})
    for name, source in routes.items():
        value = local_secrets.webhook_secret(name, source)
        if secrets.get(name, seeded.get(name)) == seeded.get(name) and seeded.get(name) != value:
            secrets[name] = seeded[name] = value  # a new route, or one whose kind of secret changed (not one rotated)
    sandbox.aws.put_secret({**document, "webhook_secrets": secrets})
    webhook.forget()
    webhook_url = endpoint.url
    lines = []
    for file in sorted(set(before) | set(now)):
        name = file.removesuffix(".json")
        what = "added" if file not in before else "removed" if file not in now else "changed"
        found = routes.get(name)
        if what == "removed":
            lines.append(f"recipe {file} removed: /webhooks/{name} " + ("is the preset again" if found else "is gone"))
        elif before.get(file) == now.get(file):
            continue
        elif getattr(found, "recipe", None) is None:
            problem = getattr(found, "problem", "not a route's name: <a-z0-9_->.json")
            lines.append(f"recipe {file} {what}, invalid: {problem}; its route answers 503 invalid_setting")
        else:
            # A secret set with make local-secret (typed without echo) is not said again: only the seeded one.
            said = secrets.get(name) if secrets.get(name) == seeded.get(name) else "(set with make local-secret)"
            lines.append(
                f"recipe {file} {what}: /webhooks/{name} serves it from the next request; local secret "
                f"{said}: {_send(webhook_url, name, folder)}"
            )
    return lines


if __name__ == "__main__":
    main()
