"""The upload authorizer (handler ``function.authorizer.handler``): API Gateway's ``REQUEST`` Lambda
authorizer on ``PUT /uploads/{key+}``, so a bad upload is refused before the S3 integration
stores anything.

``PUT /uploads/{key+}`` is an S3 service integration: the body goes byte for byte to the bucket
with no Lambda in between, and API Gateway has no way to check a path parameter against a rule.
An authorizer is the one place that sees the path, the query and the headers first. It applies
the shared upload rules (``function.uploads``) and answers:

* key breaks the rule, or ``?overwrite`` is asked for → **Deny** with ``context.message`` saying
  which rule failed (and ``messageJson``, the same as a JSON string). API Gateway turns a Deny
  into its ``ACCESS_DENIED`` gateway response, which ``UploadApi`` sets to 400 with
  ``{"message": $context.authorizer.messageJson}``;
* Content-Type not an accepted image type → the error ``Unauthorized``. API Gateway answers that
  with its ``UNAUTHORIZED`` gateway response, which ``UploadApi`` sets to 415 with the list of
  accepted types (an authorizer can only Allow, Deny or fail: two gateway responses are the only
  way to get two statuses, and ``Unauthorized`` carries no context, hence the fixed message);
* otherwise **Allow**, for this method ARN only.

AWS references: the authorizer's input and output
(https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-lambda-authorizer-input.html,
…/api-gateway-lambda-authorizer-output.html), ``$context.authorizer.<key>`` in gateway responses and
mappings (…/api-gateway-mapping-template-reference.html), and the ``Unauthorized`` error → 401
``UNAUTHORIZED`` (…/apigateway-use-lambda-authorizer.html). Results are not cached (TTL 0): the
decision depends on the path, which cannot be an identity source.

No AWS calls: pure checks on the request.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import Any

from aws_lambda_powertools import Logger

from function import env as env_names
from function.uploads import KeyRuleError, check_content_type, check_key

logger = Logger(service=os.environ.get(env_names.POWERTOOLS_SERVICE_NAME, env_names.SERVICE))

UNAUTHORIZED = "Unauthorized"  # the exact error text API Gateway maps to 401 UNAUTHORIZED
PRINCIPAL = "imgpipe-upload"


class UnsupportedContentType(Exception):
    """Raised with the message ``Unauthorized``: API Gateway's signal for its 401 response."""

    def __init__(self) -> None:
        super().__init__(UNAUTHORIZED)


def _deny(method_arn: str, rule: str, message: str) -> dict[str, Any]:
    """Deny, with the message twice: plain, and as a JSON string literal (``messageJson``) for the
    gateway response template, which has no JSON escaping of its own."""
    return _policy("Deny", method_arn, {"rule": rule, "message": message, "messageJson": json.dumps(message)})


def _policy(effect: str, method_arn: str, context: dict[str, str]) -> dict[str, Any]:
    return {
        "principalId": PRINCIPAL,
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [{"Action": "execute-api:Invoke", "Effect": effect, "Resource": method_arn}],
        },
        "context": context,
    }


def _header(headers: Mapping[str, Any] | None, name: str) -> str:
    for key, value in (headers or {}).items():
        if key.lower() == name.lower():
            return str(value)
    return ""


def decide(event: Mapping[str, Any]) -> dict[str, Any]:
    """The authorizer's answer for one ``REQUEST`` event (raises :class:`UnsupportedContentType`)."""
    method_arn = str(event.get("methodArn", ""))
    key = (event.get("pathParameters") or {}).get("key")
    try:
        check_key(key)
    except KeyRuleError as e:
        return _deny(method_arn, e.rule, f"bad upload key: {e.message}")
    query = event.get("queryStringParameters") or {}
    if "overwrite" in query:
        return _deny(
            method_arn,
            "overwrite",
            "PUT /uploads never replaces an object; to write a new version of an existing key, "
            'POST /uploads with {"key": …, "overwrite": true} and upload to the URL it returns',
        )
    try:
        content_type = check_content_type(_header(event.get("headers"), "content-type"))
    except ValueError:
        raise UnsupportedContentType() from None
    return _policy("Allow", method_arn, {"key": str(key), "content_type": content_type})


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    request_id = (event.get("requestContext") or {}).get("requestId")
    try:
        answer = decide(event)
    except UnsupportedContentType:
        logger.info("upload refused: content type", extra={"api_request_id": request_id})
        raise
    effect = answer["policyDocument"]["Statement"][0]["Effect"]
    if effect == "Deny":
        logger.info("upload refused", extra={"api_request_id": request_id, "rule": answer["context"]["rule"]})
    return answer
