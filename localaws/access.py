"""IAM enforcement for the local functions: their calls are checked against their role's policies.

On AWS a function calls S3/DynamoDB/KMS/SQS with its execution role's temporary credentials,
so a permission missing from the role fails with ``AccessDenied``. Locally the same happens:

- each function worker gets credentials from STS ``AssumeRole`` on the function's role
  (moto's STS, like Lambda's own ``AssumeRole``);
- moto's IAM access control (``moto.core.authorization``, off by default, all-or-nothing
  through ``settings.INITIAL_NO_AUTH_ACTION_COUNT``) is run **only for requests signed with
  those credentials**: the deployer, uploads, checks and a developer's ``aws`` CLI keep using
  any dummy key, as on a local emulator they would.

moto 5.2.5 evaluates the assumed role's inline and attached policies (Allow/Deny, actions and
``Resource`` patterns). It passes the object ARN for S3 but ``*`` as the resource for JSON
services, which matches only ``Resource: "*"`` statements; this module supplies the table /
index / key ARN from the request instead, so least-privilege policies work. Condition keys
are not evaluated (moto supports ``StringEquals`` on request parameters only). Presigned URLs
(signature in the query string) are not checked. The hook replaces a moto private name (through
``localaws.moto_patches``, which lists it): moto is pinned.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import Any

from moto.core.exceptions import AccessDeniedError, JsonRESTError

from localaws import ACCOUNT_ID, client_args, moto_patches

# Services whose request names a resource in the JSON body (moto passes "*" for them).
_JSON_SERVICES = {"dynamodb", "kms"}


class Enforcer:
    """The set of credentials (function role sessions) whose calls are checked."""

    def __init__(self, enabled: bool = True, say: Callable[[str], None] | None = None) -> None:
        self.enabled = enabled
        self.say = say  # where each denial is reported (the engine log), like CloudTrail would
        self._keys: dict[str, str] = {}  # access key id -> function name
        self._lock = threading.Lock()
        self.checked = 0
        self.denied = 0

    def watch(self, access_key_id: str, function: str) -> None:
        with self._lock:
            self._keys[access_key_id] = function

    def watched(self, access_key_id: str) -> bool:
        with self._lock:
            return access_key_id in self._keys

    def count_checked(self) -> None:
        with self._lock:
            self.checked += 1

    def count_denied(self, access_key_id: str, action: str, resource: str) -> None:
        with self._lock:
            self.denied += 1
            function = self._keys.get(access_key_id, "?")
        if self.say:
            self.say(f"  iam: {function} denied {action} on {resource}")


def assume_role(endpoint_url: str, region: str, role_arn: str, session: str) -> dict[str, str]:
    """Temporary credentials for the role (moto's STS), as Lambda obtains them for a function."""
    import boto3

    sts = boto3.client("sts", **client_args(endpoint_url, region))
    creds = sts.assume_role(RoleArn=role_arn, RoleSessionName=session[:64])["Credentials"]
    return {
        "AWS_ACCESS_KEY_ID": creds["AccessKeyId"],
        "AWS_SECRET_ACCESS_KEY": creds["SecretAccessKey"],
        "AWS_SESSION_TOKEN": creds["SessionToken"],
    }


def _credential(headers: Any) -> tuple[str, str, str]:
    """(access key id, region, service) from a SigV4 ``Authorization`` header ('' if absent)."""
    auth = (headers.get("Authorization") or "") if headers else ""
    scope = auth.partition("Credential=")[2].partition(",")[0].split("/")
    if len(scope) < 4:
        return "", "", ""
    return scope[0], scope[2], scope[3]


def _json_body(response: Any) -> dict[str, Any]:
    body = getattr(response, "body", None)
    if isinstance(body, dict):
        return body
    try:
        parsed = json.loads(getattr(response, "raw_body", b"") or b"{}")
    except (ValueError, TypeError):
        return {}
    return parsed if isinstance(parsed, dict) else {}


def resources_for(service: str, region: str, body: dict[str, Any], default: str) -> list[str]:
    """The ARNs a JSON-protocol request acts on (moto passes ``*``); ``[default]`` if unknown."""
    if service == "dynamodb":
        table_arn = f"arn:aws:dynamodb:{region}:{ACCOUNT_ID}:table/"
        if body.get("TableName"):
            arn = table_arn + str(body["TableName"])
            if body.get("IndexName"):
                arn += f"/index/{body['IndexName']}"
            return [arn]
        if isinstance(body.get("RequestItems"), dict):  # BatchGetItem / BatchWriteItem
            return [table_arn + str(t) for t in body["RequestItems"]] or [default]
        if isinstance(body.get("TransactItems"), list):
            names = {
                str(op.get("TableName"))
                for item in body["TransactItems"]
                if isinstance(item, dict)
                for op in item.values()
                if isinstance(op, dict) and op.get("TableName")
            }
            return [table_arn + n for n in sorted(names)] or [default]
    if service == "kms" and body.get("KeyId"):
        key = str(body["KeyId"])
        if key.startswith("arn:"):
            return [key]
        if key.startswith("alias/"):
            return [f"arn:aws:kms:{region}:{ACCOUNT_ID}:{key}"]
        return [f"arn:aws:kms:{region}:{ACCOUNT_ID}:key/{key}"]
    return [default]


_installed: Enforcer | None = None


def install(enforcer: Enforcer) -> None:
    """Check requests signed with watched credentials against their role's policies."""
    global _installed
    if _installed is not None:  # one moto server per process: re-point the hook
        _installed = enforcer
        return
    _installed = enforcer

    def authorize(self: Any, iam_request_cls: type, resource: str = "*") -> None:
        if iam_request_cls.__name__ == "S3IAMRequest":
            _check_key_length(resource)  # every caller, like S3
        active = _installed
        key, region, service = _credential(getattr(self, "headers", None))
        if active is None or not active.enabled or not key or not active.watched(key):
            return  # deployer, uploads, checks, the developer's CLI: not checked (moto's default)
        active.count_checked()
        targets = [resource]
        if service in _JSON_SERVICES:
            targets = resources_for(service, region, _json_body(self), resource)
        try:
            for target in targets:
                _check(self, iam_request_cls, target)
            if service == "s3":
                _missing_object_needs_list_bucket(self, iam_request_cls, resource)
        except AccessDeniedError as e:
            active.count_denied(key, f"{service}:{self._get_action()}", ", ".join(targets))
            # moto's IAM error is XML; JSON-protocol clients (X-Amz-Target) could not parse it
            # (the code would read "403"): answer like those services do.
            if (self.headers.get("X-Amz-Target") or "").strip():
                on = ", ".join(targets)
                raise JsonRESTError(
                    "AccessDeniedException",
                    f"{e.message} on resource: {on} because no identity-based policy allows the "
                    f"{e.message.rsplit(': ', 1)[-1]} action",
                ) from None
            raise
        except Exception:
            active.count_denied(key, f"{service}:{self._get_action()}", ", ".join(targets))
            raise

    moto_patches.replace_authorizer(authorize)


MAX_KEY_BYTES = 1024


def _check_key_length(resource: str) -> None:
    """S3 refuses object keys over 1,024 bytes of UTF-8 with 400 KeyTooLongError ("Your key is too
    long"; https://docs.aws.amazon.com/AmazonS3/latest/userguide/object-keys.html); moto stores them."""
    _, sep, key = resource.partition(":::")[2].partition("/")
    if sep and len(key.encode("utf-8")) > MAX_KEY_BYTES:
        from moto.s3.exceptions import S3ClientError

        raise S3ClientError(
            "KeyTooLongError",
            f"Your key is too long: {len(key.encode('utf-8'))} bytes, S3 allows {MAX_KEY_BYTES}",
        )


def _request(response: Any, iam_request_cls: type, action: str | None = None) -> Any:
    from urllib.parse import urlparse

    parsed = urlparse(response.uri)
    path = response.raw_path + (f"?{parsed.query}" if parsed.query else "")
    return iam_request_cls(
        account_id=response.current_account,
        method=response.method,
        path=path,
        data=response.data,
        body=response.raw_body,
        headers=response.headers,
        action=action or response._get_action(),
    )


def _check(response: Any, iam_request_cls: type, resource: str) -> None:
    """moto's own check (signature, then the principal's policies), as when auth is on."""
    request = _request(response, iam_request_cls)
    request.check_signature()
    request.check_action_permitted(resource)


def _missing_object_needs_list_bucket(response: Any, iam_request_cls: type, resource: str) -> None:
    """S3 answers a GET/HEAD of a missing object with 404 only if the caller may s3:ListBucket
    the bucket, else 403 AccessDenied, so keys cannot be probed ("If you don't have the
    s3:ListBucket permission, Amazon S3 returns an HTTP status code 403 Access Denied error":
    https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetObject.html#API_GetObject_RequestSyntax).
    moto always answers 404. Missing means: no such key, a key whose current version is a delete
    marker (GET without a version), or no such version of the key (GET with ``versionId``)."""
    action = str(response._get_action())
    bucket, sep, key = resource.removeprefix("arn:aws:s3:::").partition("/")
    if action not in ("GetObject", "GetObjectVersion") or not sep or not key:
        return
    version_id = (getattr(response, "querystring", None) or {}).get("versionId", [None])[0]
    try:
        exists = moto_patches.s3_object_exists(response.current_account, bucket, key, version_id)
    except Exception:  # no such bucket: S3's own error applies
        return
    if not exists:
        _request(response, iam_request_cls, "ListBucket").check_action_permitted(f"arn:aws:s3:::{bucket}")
