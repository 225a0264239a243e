"""Serve a deployed REST API stage locally, from its definition in the local AWS.

moto stores REST APIs but executes only DynamoDB ``action/…`` integrations (against the real
AWS hostname, without mapping templates) and rejects S3 ``path/…`` ones, so the local stack
serves stages itself: every request reads the API definition the program deployed (resources,
methods, integrations, integration responses, validators, gateway responses, usage plans and
keys) from the local endpoint through boto3 and executes it the way API Gateway does.

URL layout: ``<base_url>/<rest_api_id>/<stage_name>/<resource path>``, i.e. the stage invoke URL
``https://<id>.execute-api.<region>.amazonaws.com/<stage>`` with the host replaced.

Behaviour kept from AWS (so clients see the same answers locally): unknown routes and methods →
403 ``Missing Authentication Token``; missing/unknown/disabled API key → 403 ``Forbidden``;
unknown stage → 403 ``Forbidden``; bodies over 10 MiB → 413 (from the declared length, or as a
chunked body passes the limit: never read whole); non-binary media types are
UTF-8 text (an image sent without a matching ``binaryMediaTypes`` entry is corrupted exactly as
on AWS); ``$context.responseOverride`` applies; gateway responses can be customised.
Throttling and quotas are enforced from the deployed definition (see ``limits.Limiter``): the stage's
method settings (per method, all callers) and the usage plan of the request's API key (rate/burst
token bucket and per-method throttle per key, then the DAY/WEEK/MONTH quota per key) → 429
``Too Many Requests`` (``THROTTLED``) or ``Limit Exceeded`` (``QUOTA_EXCEEDED``). ``AWS_IAM``
methods need a SigV4 ``Authorization`` header whose access key exists locally (see
``limits.check_sigv4`` for what is and is not checked).
Lambda authorizers (``TOKEN``/``REQUEST``) run as on AWS, with their result cache and
``$context.authorizer`` (see ``authorizers``). Not emulated: the SigV4 signature itself, response
caching, Cognito authorizers, HTTP/VPC-link integrations, account-level throttling, quota
``offset``.

Modules: ``model`` (requests, responses, the deployed definition, routing), ``limits`` (API
keys, SigV4, throttling and quotas), ``authorizers`` (Lambda authorizers), ``integrations``
(mapping templates and the S3, DynamoDB, Lambda and MOCK backends), ``server`` (dispatch,
validation, gateway responses, HTTP).
"""

from localaws.apigateway.model import (
    MAX_PAYLOAD,
    ApiDefinition,
    GatewayError,
    IntegrationResult,
    Request,
    Resource,
    Response,
    is_binary,
    match_resource,
    media_type,
)
from localaws.apigateway.server import StageServer

__all__ = [
    "MAX_PAYLOAD",
    "ApiDefinition",
    "GatewayError",
    "IntegrationResult",
    "Request",
    "Resource",
    "Response",
    "StageServer",
    "is_binary",
    "match_resource",
    "media_type",
]
