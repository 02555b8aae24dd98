"""Time: every call the function makes fits before its answer is due (SPEC section 7, "Every duplicate path")."""

from __future__ import annotations

import time
from dataclasses import dataclass

from botocore.config import Config

# Every AWS call (Secrets Manager, DynamoDB, SQS) is one attempt with short timeouts, so that its worst
# case is known and the answer always comes before the function's timeout: the sender's retry, or the
# retry queue's, is the retry. These services answer in milliseconds when they are well.
AWS_CONFIG = Config(connect_timeout=0.5, read_timeout=1.0, retries={"total_max_attempts": 1, "mode": "standard"})
AWS_CALL_SECONDS = 1.5
# Kept back from the function's timeout to log and return the answer.
REPLY_SECONDS = 0.3


@dataclass(frozen=True)
class Deadline:
    """When a request's work must be over (`ends`) and when the gateway's answer is due (`forward_by`).

    Both are time.monotonic() values. `forward_by` leaves room before `ends` for the calls that follow
    the forward (storing the answer, and queueing the delivery when the gateway failed).
    """

    ends: float
    forward_by: float

    @classmethod
    def start(cls, remaining_seconds: float, forward_budget: float, calls_after_forward: int) -> Deadline:
        now = time.monotonic()
        ends = now + remaining_seconds - REPLY_SECONDS
        return cls(ends=ends, forward_by=min(now + forward_budget, ends - calls_after_forward * AWS_CALL_SECONDS))

    def fits_aws_call(self, calls: int = 1, *, before_forward_ends: bool = False) -> bool:
        """Whether `calls` more AWS calls, at their worst, still end before `ends` (or before `forward_by`,
        for a call that is part of the forward, such as reading a rotated key)."""
        end = self.forward_by if before_forward_ends else self.ends
        return time.monotonic() + calls * AWS_CALL_SECONDS <= end
