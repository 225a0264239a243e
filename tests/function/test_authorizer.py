"""The upload authorizer (``function.authorizer``): Allow for good uploads, Deny naming the broken key
rule, ``Unauthorized`` (→ 415 at the gateway) for a non-image Content-Type."""

from __future__ import annotations

from typing import Any

import pytest

from function import authorizer

ARN = "arn:aws:execute-api:us-east-1:123456789012:abc123/dev/PUT/uploads/photos/a.jpg"


def event(key: Any, content_type: str | None = "image/jpeg", query: dict[str, str] | None = None) -> dict:
    """A REQUEST authorizer event as API Gateway sends it for PUT /uploads/{key+}."""
    headers = {"Content-Type": content_type, "x-api-key": "k"} if content_type is not None else {}
    return {
        "type": "REQUEST",
        "methodArn": ARN,
        "resource": "/uploads/{key+}",
        "path": f"/uploads/{key}",
        "httpMethod": "PUT",
        "headers": headers,
        "queryStringParameters": query,
        "pathParameters": {"key": key},
        "requestContext": {"requestId": "r-1", "resourcePath": "/uploads/{key+}", "httpMethod": "PUT"},
    }


def effect(answer: dict[str, Any]) -> str:
    [statement] = answer["policyDocument"]["Statement"]
    assert statement["Action"] == "execute-api:Invoke" and statement["Resource"] == ARN
    return statement["Effect"]


def test_a_good_upload_is_allowed_for_this_method_only() -> None:
    answer = authorizer.handler(event("photos/a.jpg", "image/JPEG; charset=binary"), None)
    assert effect(answer) == "Allow"
    assert answer["context"] == {"key": "photos/a.jpg", "content_type": "image/jpeg"}
    assert all(isinstance(v, str) for v in answer["context"].values())  # API Gateway's context types


@pytest.mark.parametrize(
    ("key", "rule"),
    [
        ("../../x.jpg", "dot_segment"),
        ("/x.jpg", "leading_slash"),
        ("a//x.jpg", "empty_segment"),
        ("invoice\u202egpj.exe", "bidi_character"),
        ("a\x1bb.jpg", "control_character"),
        ("x" * 1025, "too_long"),
        ("", "empty"),
    ],
)
def test_a_bad_key_is_denied_with_the_rule_it_breaks(key: str, rule: str) -> None:
    answer = authorizer.handler(event(key), None)
    assert effect(answer) == "Deny"
    assert answer["context"]["rule"] == rule
    assert answer["context"]["message"].startswith("bad upload key: the key")
    # the gateway response template inserts messageJson as is: it must be one JSON string
    import json

    assert json.loads(answer["context"]["messageJson"]) == answer["context"]["message"]


def test_overwrite_on_put_is_denied_and_points_to_post() -> None:
    answer = authorizer.handler(event("a.jpg", query={"overwrite": "true"}), None)
    assert effect(answer) == "Deny" and answer["context"]["rule"] == "overwrite"
    assert "POST /uploads" in answer["context"]["message"]


@pytest.mark.parametrize("content_type", ["text/html", "application/octet-stream", "", None])
def test_a_non_image_type_fails_with_unauthorized(content_type: str | None) -> None:
    with pytest.raises(Exception, match=r"^Unauthorized$") as raised:
        authorizer.handler(event("a.jpg", content_type), None)
    # Lambda reports str(exception) as errorMessage: API Gateway matches it exactly
    assert str(raised.value) == "Unauthorized"


def test_the_key_is_checked_before_the_type() -> None:
    assert effect(authorizer.handler(event("../x", "text/html"), None)) == "Deny"
