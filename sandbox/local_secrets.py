"""Every local-only secret of the sandbox, defined here once: the gateway key, the phone key and each route's
webhook secret or token. `make serve` seeds them and prints them; the senders, events/ and the tests sign with
them. Never use them anywhere real.

A route's local secret is `local-<route>-secret`, but for the few below whose sender needs another form (a
token the docs call a token, Framer's 32 characters at least, a Standard Webhooks `whsec_` key); a recipe of
your own whose every credential is for secrets with a prefix (`secret_prefix`) gets one with that prefix.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Mapping
from typing import Any

GATEWAY_KEY = "local-gateway-key"
# The key of the phones' HMAC in the deduplication table; deployed, the stack generates it.
PHONE_KEY = "local-phone-key-for-the-hmac-of-phones-0123456789"
# generic signed by Standard Webhooks (whsec_ and the base64 of a 32-byte key): make serve's `--secret
# standard-webhooks`.
STANDARD_WEBHOOKS = "whsec_bG9jYWwtc3RhbmRhcmQtd2ViaG9va3Mta2V5ITE="
_ROUTES = {
    "jotform": "local-jotform-token",
    "zapier": "local-zapier-token",
    "generic": "local-generic-token",
    "framer": "local-framer-secret-of-32-characters!",  # Framer asks for 32 characters at least
    "formbricks": "whsec_bG9jYWwtZm9ybWJyaWNrcy1zaWduaW5nLWtleSEh",
}
_WHSEC = "whsec_"


def webhook_secret(route: str, source: Any = None) -> str:
    """The local secret (or token) of `route`; `source`, its recipe source, when a recipe of your own may need a
    secret with a prefix."""
    if route in _ROUTES:
        return _ROUTES[route]
    credentials = getattr(getattr(source, "recipe", None), "credentials", ())
    prefixes = [credential.secret_prefix for credential in credentials]
    keyed = [getattr(credential.check, "key", None) for credential in credentials]
    if (prefixes and all(prefixes) and prefixes[0] == _WHSEC) or (keyed and keyed[0] == "whsec"):
        # A base64 key after whsec_, as Standard Webhooks reads one (a recipe whose key is "whsec" refuses others).
        return _WHSEC + base64.b64encode(f"local-{route}-signing-key".encode()).decode()
    if prefixes and all(prefixes):
        return f"{prefixes[0]}local-{route}-secret"
    return f"local-{route}-secret"


def document(routes: Iterable[str] | Mapping[str, Any]) -> dict[str, Any]:
    """The local secret (its JSON, as the function reads it) for these routes, or these routes' sources."""
    sources = routes if isinstance(routes, Mapping) else dict.fromkeys(routes)
    return {"api_key": GATEWAY_KEY, "webhook_secrets": {r: webhook_secret(r, s) for r, s in sources.items()}}
