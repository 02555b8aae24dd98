"""One owner per delivery: Powertools Idempotency on DynamoDB, keyed by the source and its delivery id.

Final answers (created, and the phone refusals) are stored and replayed with the same status and body.
A transient failure raises, so Powertools deletes the record and the sender's retry forwards again.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict
from typing import Any, Protocol

import boto3
from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyAlreadyInProgressError,
    IdempotencyInconsistentStateError,
    IdempotencyPersistenceLayerError,
)
from aws_lambda_powertools.utilities.idempotency.persistence.datarecord import DataRecord
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.config import Config

from owner_webhook.answers import Answer
from owner_webhook.errors import DeduplicationUnavailableError, InProgressError

Work = Callable[[], Answer]
# A table that does not answer within a few seconds is down; a quick 503 serves the sender better.
_BOTO_CONFIG = Config(connect_timeout=1, read_timeout=2, retries={"max_attempts": 2, "mode": "standard"})


class Deduplicator(Protocol):
    def register(self, context: LambdaContext) -> None:
        """Tell the store how long this invocation may run (an in-flight record expires with it)."""

    def once(self, source: str, delivery_id: str, work: Work, scope: str = "webhook") -> Answer:
        """The answer of `work`, run at most once per (scope, source, delivery id) while the record lives.

        The webhook and the queue's worker each have a scope: the webhook stores the answer it gave
        the sender ("queued"), the worker whether it created the owner since.
        Raises InProgressError or DeduplicationUnavailableError, and whatever `work` raises.
        """


class NoDeduplication:
    """IDEMPOTENCY_TABLE unset: every delivery is forwarded."""

    def register(self, context: LambdaContext) -> None:
        pass

    def once(self, source: str, delivery_id: str, work: Work, scope: str = "webhook") -> Answer:
        return work()


class DynamoDBDeduplication:
    def __init__(
        self, table_name: str, expires_after_seconds: int, session: boto3.session.Session | None = None
    ) -> None:
        self._config = IdempotencyConfig(
            expires_after_seconds=expires_after_seconds,
            raise_on_no_idempotency_key=True,
            response_hook=_mark_replayed,
        )
        layer = DynamoDBPersistenceLayer(table_name=table_name, boto_config=_BOTO_CONFIG, boto3_session=session)
        # Fixed key prefixes keep the keys stable when this module is renamed or moved.
        self._run_once = {
            scope: idempotent_function(
                data_keyword_argument="delivery", persistence_store=layer, config=self._config, key_prefix=prefix
            )(_run)
            for scope, prefix in (("webhook", "owner-webhook"), ("queue", "owner-webhook-queue"))
        }

    def register(self, context: LambdaContext) -> None:
        self._config.register_lambda_context(context)

    def once(self, source: str, delivery_id: str, work: Work, scope: str = "webhook") -> Answer:
        try:
            stored = self._run_once[scope](delivery={"source": source, "delivery_id": delivery_id}, work=work)
        except IdempotencyAlreadyInProgressError:
            raise InProgressError("this delivery is being handled right now; retry shortly") from None
        except (IdempotencyPersistenceLayerError, IdempotencyInconsistentStateError) as exc:
            raise DeduplicationUnavailableError("the deduplication table is unavailable; retry") from exc
        return Answer(**stored)


def _run(delivery: dict[str, str], work: Work) -> dict[str, Any]:
    return asdict(work())


def _mark_replayed(response: Any, idempotent_data: DataRecord) -> Any:
    return {**response, "replayed": True} if isinstance(response, dict) else response
