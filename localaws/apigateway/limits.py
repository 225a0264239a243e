"""Who may call a stage and how often: API keys, SigV4 callers, throttling and quotas.

What API Gateway checks before it integrates, in its order: an ``AWS_IAM`` method's SigV4
``Authorization`` header (``check_sigv4``), an API key in a usage plan for the stage
(``usage_plan_key``), then the stage's method throttling, the plan's per-key throttle and the
plan's quota (``enforce_limits``, counting in a ``Limiter``).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

from localaws.apigateway.model import ApiDefinition, GatewayError, Request, Resource

# (API key id, usage plan, the plan's apiStages entry for the stage)
PlanKey = tuple[str, dict[str, Any], dict[str, Any]]


@dataclass
class _Bucket:
    tokens: float
    updated: float


class Limiter:
    """API Gateway's request limits: token buckets (rate per second, burst) and period quotas.

    ``clock`` returns epoch seconds (injectable so tests drive time instead of sleeping). A bucket
    starts full (``burst`` tokens), refills at ``rate`` tokens per second up to ``burst``; each
    request takes one token. A quota counts requests per UTC day, ISO week or calendar month.
    Limits are kept in memory per server (a restart forgets them, as a new AWS account would not).
    """

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self._lock = threading.Lock()
        self._buckets: dict[tuple[Any, ...], _Bucket] = {}
        self._counts: dict[tuple[Any, ...], tuple[str, int]] = {}

    def take(self, key: tuple[Any, ...], rate: float, burst: float) -> bool:
        """Take a token from the bucket ``key``; False when it is empty (the request is throttled)."""
        now = self.clock()
        with self._lock:
            bucket = self._buckets.get(key)
            if bucket is None:
                bucket = self._buckets[key] = _Bucket(float(burst), now)
            # max(): a clock set back must not drain the bucket
            bucket.tokens = min(float(burst), bucket.tokens + max(0.0, now - bucket.updated) * rate)
            bucket.updated = now
            if bucket.tokens < 1:
                return False
            bucket.tokens -= 1
            return True

    def count(self, key: tuple[Any, ...], limit: int, period: str) -> bool:
        """Count one request against ``limit`` per ``period``; False once the limit is used up."""
        window = _quota_window(self.clock(), period)
        with self._lock:
            current, used = self._counts.get(key, (window, 0))
            if current != window:
                used = 0  # a new day/week/month
            if used >= limit:
                return False
            self._counts[key] = (window, used + 1)
            return True


def _quota_window(epoch: float, period: str) -> str:
    """The quota period containing ``epoch`` (UTC), e.g. ``2026-11-23``, ``2026-W48``, ``2026-11``."""
    day = datetime.fromtimestamp(epoch, UTC).date()
    if period == "DAY":
        return day.isoformat()
    if period == "WEEK":
        year, week, _ = day.isocalendar()
        return f"{year}-W{week:02d}"
    if period == "MONTH":
        return f"{day.year}-{day.month:02d}"
    raise RuntimeError(f"usage plan quota period {period!r} is not DAY, WEEK or MONTH")


def _throttle(settings: Mapping[str, Any] | None, rate: str, burst: str) -> tuple[float, float] | None:
    """(rate, burst) from throttle settings; None when unset (AWS and moto use -1 or omit them)."""
    if not settings or settings.get(rate) is None or settings.get(burst) is None:
        return None
    values = float(settings[rate]), float(settings[burst])
    return None if min(values) < 0 else values


def usage_plan_key(apigw: Any, api_id: str, stage: str, value: str) -> PlanKey | None:
    """(key id, usage plan, its api stage entry) for an enabled API key with this value whose
    usage plan covers api+stage; None if there is none (→ 403 Forbidden).

    Read on every request (not cached): keys and plans can change while the stack runs.
    """
    if not value:
        return None
    keys = apigw.get_api_keys(includeValues=True).get("items", [])
    for key in keys:
        if key.get("value") != value or not key.get("enabled", False):
            continue
        for plan in apigw.get_usage_plans(keyId=key["id"]).get("items", []):
            for api_stage in plan.get("apiStages", []):
                if api_stage.get("apiId") == api_id and api_stage.get("stage") == stage:
                    return key["id"], plan, api_stage
    return None


def check_sigv4(iam: Any, request: Request) -> None:
    """Authenticate an ``AWS_IAM`` method's request as far as the local AWS allows.

    Checked: an ``Authorization: AWS4-HMAC-SHA256 Credential=<key>/<date>/<region>/
    execute-api/aws4_request, …`` header is present (else 403 ``Missing Authentication
    Token``), its scope names ``execute-api``, and the access key exists in the local AWS:
    an IAM user's access key (IAM ``GetAccessKeyLastUsed``) or an STS session key from
    ``AssumeRole`` (moto's STS backend, readable when moto runs in this process, as in the
    local engine and tests) — else 403 ``The security token included in the request is
    invalid.``. Not checked: the signature itself, the date/expiry, the region, the session
    token, and the caller's IAM permission to ``execute-api:Invoke`` (AWS checks all these).
    """
    auth = request.header("authorization")
    if not auth.startswith("AWS4-HMAC-SHA256"):
        raise GatewayError("MISSING_AUTHENTICATION_TOKEN")
    scope = auth.partition("Credential=")[2].partition(",")[0].strip().split("/")
    if len(scope) != 5 or not scope[0]:
        raise GatewayError(
            "INVALID_SIGNATURE",
            "Authorization header requires 'Credential' parameter"
            " (Credential=<access key>/<date>/<region>/execute-api/aws4_request).",
            "IncompleteSignatureException",
        )
    if scope[3] != "execute-api":
        raise GatewayError(
            "INVALID_SIGNATURE", "Credential should be scoped to correct service: 'execute-api'."
        )
    if not access_key_exists(iam, scope[0]):
        raise GatewayError(
            "INVALID_SIGNATURE",
            "The security token included in the request is invalid.",
            "UnrecognizedClientException",
        )


def access_key_exists(iam: Any, access_key_id: str) -> bool:
    """Is ``access_key_id`` an IAM user's access key or an STS session key in the local AWS?"""
    try:
        iam.get_access_key_last_used(AccessKeyId=access_key_id)
        return True
    except ClientError as e:
        if e.response.get("Error", {}).get("Code") != "NoSuchEntity":
            raise
    # STS keys live only in moto's STS backend (no API lists them)
    from localaws import moto_patches

    return moto_patches.sts_access_key_exists(access_key_id)


def enforce_limits(
    limiter: Limiter, api: ApiDefinition, resource: Resource, http_method: str, plan_key: PlanKey | None
) -> None:
    """Stage method throttling (all callers), then the usage plan's per-key throttle and quota.

    Order as on AWS: throttling before the quota, so a throttled request uses no quota.
    """
    method_key = f"{resource.path.replace('/', '~1')}/{http_method}"
    settings = api.method_settings.get(method_key) or api.method_settings.get("*/*")
    limits: list[tuple[tuple[Any, ...], tuple[float, float] | None]] = [
        (
            (api.api_id, api.stage, "method", resource.path, http_method),
            _throttle(settings, "throttlingRateLimit", "throttlingBurstLimit"),
        )
    ]
    if plan_key is not None:
        key_id, plan, api_stage = plan_key
        per_method = (api_stage.get("throttle") or {}).get(f"{resource.path}/{http_method}")
        limits += [
            ((plan["id"], key_id, "plan"), _throttle(plan.get("throttle"), "rateLimit", "burstLimit")),
            (
                (plan["id"], key_id, resource.path, http_method),
                _throttle(per_method, "rateLimit", "burstLimit"),
            ),
        ]
    for bucket, throttle in limits:
        if throttle is not None and not limiter.take(bucket, *throttle):
            raise GatewayError("THROTTLED")
    if plan_key is None:
        return
    key_id, plan, _ = plan_key
    quota = plan.get("quota") or {}
    if quota.get("limit") is not None and not limiter.count(
        (plan["id"], key_id), int(quota["limit"]), quota["period"]
    ):
        raise GatewayError("QUOTA_EXCEEDED")


# --- request handling -----------------------------------------------------------------
