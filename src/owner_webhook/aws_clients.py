"""How the function's boto3 clients call AWS: one attempt each, with short timeouts."""

from __future__ import annotations

from botocore.config import Config

# One attempt with short timeouts, so that a call's worst case is known and the answer always comes
# before the function's timeout: the sender's retry, or the retry queue's, is the retry. These services
# answer in milliseconds when they are well.
CLIENT_CONFIG = Config(connect_timeout=0.5, read_timeout=1.0, retries={"total_max_attempts": 1, "mode": "standard"})
# The longest one call can take: its connect timeout and its read timeout.
CALL_SECONDS = 1.5
