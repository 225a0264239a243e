"""GET /images mapping templates (components/api_templates.py) rendered by the local VTL engine:
the by_source_key lookup, the by_status pages with limit and cursor, and 400s for bad parameters
that never reach DynamoDB as anything but an empty query."""

from __future__ import annotations

import json
from typing import Any

import pytest

from components.api_templates import LIST_LIMIT, QUERY_RESPONSE_TEMPLATE, query_request_template
from localaws import vtl

CURSOR = "2026-11-28T21:00:06.123Z~045c7528f25ac3aa"


def request(query: dict[str, str]) -> dict[str, Any]:
    out = vtl.render(query_request_template("meta"), "", {"querystring": query}, vtl.TemplateContext())
    return dict(json.loads(out))


def response(query: dict[str, str], dynamodb_answer: dict[str, Any]) -> tuple[int | None, Any]:
    ctx = vtl.TemplateContext()
    out = vtl.render(QUERY_RESPONSE_TEMPLATE, json.dumps(dynamodb_answer), {"querystring": query}, ctx)
    return ctx.context["responseOverride"]["status"], json.loads(out)


def item(image_id: str, created_at: str) -> dict[str, Any]:
    return {
        "image_id": {"S": image_id},
        "source_bucket": {"S": "up"},
        "source_key": {"S": f"gallery/{image_id}.jpg"},
        "status": {"S": "done"},
        "created_at": {"S": created_at},
        "variants": {"M": {}},
    }


def test_source_key_lookup_is_unchanged() -> None:
    body = request({"source_key": "holiday/it's.jpg"})
    assert body["IndexName"] == "by_source_key" and body["Limit"] == 50
    assert body["ExpressionAttributeValues"] == {":k": {"S": "holiday/it's.jpg"}}
    status, answer = response(
        {"source_key": "a.jpg"}, {"Items": [item("0123456789abcdef", "2026-11-28T20:00:00.000Z")]}
    )
    assert status is None and answer["source_key"] == "a.jpg" and answer["count"] == 1


def test_status_pages_newest_first_with_limit_and_cursor() -> None:
    first = request({"status": "done", "limit": "12"})
    assert first["IndexName"] == "by_status" and first["ScanIndexForward"] is False
    assert first["KeyConditionExpression"] == "#s = :s" and first["ExpressionAttributeNames"] == {
        "#s": "status"
    }
    assert first["ExpressionAttributeValues"] == {":s": {"S": "done"}} and first["Limit"] == 12
    assert "ExclusiveStartKey" not in first
    assert request({"status": "failed"})["Limit"] == LIST_LIMIT
    after = request({"status": "done", "cursor": CURSOR})
    assert after["ExclusiveStartKey"] == {
        "status": {"S": "done"},
        "created_at": {"S": "2026-11-28T21:00:06.123Z"},
        "image_id": {"S": "045c7528f25ac3aa"},
    }


def test_status_answer_carries_the_next_cursor_until_the_last_page() -> None:
    items = [
        item("045c7528f25ac3aa", "2026-11-28T21:00:06.123Z"),
        item("0123456789abcdef", "2026-11-28T20:00:00.000Z"),
    ]
    last = {
        "status": {"S": "done"},
        "created_at": {"S": "2026-11-28T20:00:00.000Z"},
        "image_id": {"S": "0123456789abcdef"},
    }
    status, page = response({"status": "done", "limit": "2"}, {"Items": items, "LastEvaluatedKey": last})
    assert status is None
    assert page["status"] == "done" and page["count"] == 2
    assert [i["image_id"] for i in page["items"]] == ["045c7528f25ac3aa", "0123456789abcdef"]
    assert page["next_cursor"] == "2026-11-28T20:00:00.000Z~0123456789abcdef"
    # the cursor the answer gives is one the request accepts
    assert request({"status": "done", "cursor": page["next_cursor"]})["ExclusiveStartKey"] == last
    _, end = response({"status": "done"}, {"Items": []})
    assert end == {"status": "done", "count": 0, "items": [], "next_cursor": None}


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({}, "give source_key"),
        ({"status": "DONE"}, "status must be processing, done or failed"),
        ({"status": "done", "limit": "0"}, "limit must be a whole number from 1 to 100"),
        ({"status": "done", "limit": "101"}, "limit must be"),
        ({"status": "done", "limit": "ten"}, "limit must be"),
        ({"status": "done", "cursor": "abc"}, "cursor must be the next_cursor"),
        ({"status": "done", "cursor": 'x"}, "TableName": "other'}, "cursor must be the next_cursor"),
    ],
)
def test_bad_parameters_are_400_and_query_nothing(query: dict[str, str], message: str) -> None:
    body = request(query)
    # a harmless, empty query: no client text reaches the request
    assert body["ExpressionAttributeValues"] == {":s": {"S": "-"}} and "ExclusiveStartKey" not in body
    assert body["TableName"] == "meta"
    status, answer = response(query, {"Items": []})
    assert status == 400 and message in answer["message"]
