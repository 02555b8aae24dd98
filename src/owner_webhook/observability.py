"""The Powertools singletons: structured logs (and, later, metrics) shared by every module."""

from __future__ import annotations

from aws_lambda_powertools import Logger

logger = Logger(service="owner-webhook")
