"""`make send SOURCE=<route> [BODY=<file>] [HEADERS=<file>] [DRY_RUN=1] [SECRET=...] [URL=...]`: a payload
signed as that route's sender signs it, from its recipe, sent, and the answer printed.

Without BODY, the sender's own sample signup (a preset's sample, or one built from your recipe), a new delivery
each time. The request goes to `<URL><SOURCE>`: URL is make serve's http://127.0.0.1:3000/webhooks/ by default,
or a deployed stack's WebhookBaseUrl. The secret is make serve's local one for a local URL, else SECRET (from
the environment, or asked for). Nothing of the secret is printed: not the token, the signature or the query
value that carries them. Values come from the environment (make passes them so), never through a shell.
Exit status: 0 for a 2xx answer, 1 for any other or an error.
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
import time
import uuid
from collections.abc import Mapping
from typing import TextIO
from urllib.parse import urlsplit

import urllib3

from sandbox import local_secrets, senders, signer
from sandbox.events import HttpRequest
from sandbox.senders import _recipe
from tools import payloads
from tools.stack import ToolError

LOCAL_URL = "http://127.0.0.1:3000/webhooks/"  # make serve's
_LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")
_YES = ("1", "true", "yes")


def prepared(
    name: str,
    *,
    body_file: str | None = None,
    headers_file: str | None = None,
    dry_run: bool = False,
    secret: str,
    url: str = LOCAL_URL,
    recipes: str | None = None,
    now: float | None = None,
) -> HttpRequest:
    """The request as `name`'s sender would send it to `<url><name>`, signed with `secret`; raises ToolError."""
    source = payloads.recipe_source(name, payloads.recipes_folder(recipes))
    if body_file:
        body = payloads.read_file(body_file, "BODY")
        headers = payloads.with_content_type(body, payloads.headers_of(headers_file), source)
    else:
        try:
            body, sample_headers = senders.payload(name, _recipe.SAMPLE_PHONE, uuid.uuid4().hex)
        except LookupError as error:
            raise ToolError(str(error)) from None
        headers = {**sample_headers, **payloads.headers_of(headers_file)}
    target = urlsplit(_base(url) + name)
    request = HttpRequest("POST", target.path, body, {**headers, "host": target.netloc}, "dry_run=1" if dry_run else "")
    try:
        # The URL as API Gateway receives it (always https), for a sender that signs it (HubSpot).
        return signer.sign(
            request,
            source.recipe,
            secret,
            time.time() if now is None else now,
            url=f"https://{target.netloc}{target.path}" + ("?dry_run=1" if dry_run else ""),
        )
    except signer.SigningError as error:
        raise ToolError(str(error)) from None


def _base(url: str) -> str:
    return url if url.endswith("/") else url + "/"


def is_local(url: str) -> bool:
    """Whether `url` is on this machine (make serve's), whose local secrets make send knows."""
    return urlsplit(url).hostname in _LOCAL_HOSTS


def secret_for(name: str, url: str, environ: Mapping[str, str], stdin: TextIO, recipes: str | None) -> str:
    """SECRET; else make serve's local secret for a local URL; else asked for, without echo. Raises ToolError for
    a secret no header could carry (a line break, a carriage return left by a file's CRLF), never showing it."""
    given = environ.get("SECRET", "")
    if given:
        return _plain_secret(given)
    if is_local(url):
        source = payloads.recipe_source(name, payloads.recipes_folder(recipes))
        return local_secrets.webhook_secret(name, source)
    if not stdin.isatty():
        raise ToolError(f"give SECRET (webhook_secrets.{name} of the stack) in the environment: SECRET=... make send")
    return _plain_secret(getpass.getpass(f"webhook_secrets.{name} (not echoed): "))


def _plain_secret(secret: str) -> str:
    if any(not character.isprintable() for character in secret):
        raise ToolError(
            "SECRET holds a line break or another control character (a file with CRLF line ends leaves a carriage "
            "return): give the secret alone"
        )
    return secret


def send(request: HttpRequest, url: str, name: str, secret: str, recipes: str | None) -> tuple[list[str], int]:
    """Send it; the lines to print (nothing of the secret) and the answer's status."""
    source = payloads.recipe_source(name, payloads.recipes_folder(recipes))
    shown = signer.shown(request, source.recipe, secret)
    target = _base(url) + name
    lines = [f"POST {target}" + (f"?{shown['query']}" if shown["query"] else "")]
    lines += [f"  {header}: {value}" for header, value in shown["headers"].items() if header != "host"]
    headers = {k: v for k, v in request.headers.items() if k != "host"}
    try:
        response = urllib3.request(
            "POST",
            target + (f"?{request.query}" if request.query else ""),
            body=request.body,
            headers=headers,
            timeout=urllib3.Timeout(connect=5, read=30),
            retries=False,
            redirect=False,
        )
    except urllib3.exceptions.HTTPError as error:
        where = "start `make serve`, or give URL=<WebhookBaseUrl>" if is_local(url) else "check URL"
        raise ToolError(f"no answer from {target}: {type(error).__name__}; {where}") from None
    except ValueError:  # a header value http.client refuses; its message would quote the value (the secret)
        raise ToolError("a header of this request cannot be sent (a control character in it or in SECRET)") from None
    lines.append(f"{response.status} {response.data.decode('utf-8', 'replace')}")
    return lines, response.status


def main(argv: list[str] | None = None, environ: Mapping[str, str] | None = None, stdin: TextIO | None = None) -> int:
    env = os.environ if environ is None else environ
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--source", default=env.get("SOURCE") or None, help="the route: its sender signs")
    parser.add_argument("--body", default=env.get("BODY") or None, help="the payload's file (default: a sample)")
    parser.add_argument("--headers", default=env.get("HEADERS") or None, help="a file of headers to send too")
    parser.add_argument("--dry-run", action="store_true", default=env.get("DRY_RUN", "").lower() in _YES)
    parser.add_argument("--url", default=env.get("URL") or LOCAL_URL, help="<WebhookBaseUrl> (default make serve's)")
    parser.add_argument("--recipes", default=env.get("RECIPES") or None, help="the recipes' folder")
    args = parser.parse_args(argv)
    try:
        if not args.source:
            raise ToolError("give SOURCE=<route>: make send SOURCE=shopify [BODY=<file>]")
        secret = secret_for(args.source, args.url, env, sys.stdin if stdin is None else stdin, args.recipes)
        request = prepared(
            args.source,
            body_file=args.body,
            headers_file=args.headers,
            dry_run=args.dry_run,
            secret=secret,
            url=args.url,
            recipes=args.recipes,
        )
        lines, status = send(request, args.url, args.source, secret, args.recipes)
    except ToolError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print("\n".join(lines))
    return 0 if 200 <= status < 300 else 1


if __name__ == "__main__":
    sys.exit(main())
