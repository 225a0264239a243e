"""Lambda entry point ``function.handler.handler``: S3 event → variants + metadata item.

Ten lines over :mod:`function.pipeline`. Only Powertools is imported here; Pillow and boto3
load on the first event, so ``import function.handler`` (cold start) stays small.
"""

from __future__ import annotations

import os
import warnings
from typing import Any

from aws_lambda_powertools import Logger, Metrics

from function import env as env_names

logger = Logger(service=os.environ.get(env_names.POWERTOOLS_SERVICE_NAME, env_names.SERVICE))
metrics = Metrics(namespace=os.environ.get(env_names.POWERTOOLS_METRICS_NAMESPACE, env_names.SERVICE))
# Duplicate and ignored events record no metric; that is expected, not worth a warning each time.
warnings.filterwarnings("ignore", message="No application metrics to publish")


@metrics.log_metrics
@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    from function.runtime import pipeline

    remaining = context.get_remaining_time_in_millis() if context is not None else None
    outcomes = pipeline(logger, metrics).handle(event, remaining)
    return {"results": [o.as_dict() for o in outcomes]}
