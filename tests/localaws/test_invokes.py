"""Provider functions the local engine answers (``localaws/resources/invokes.py``), one registry for
the engine and the unit tests' mocks."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from localaws import resources
from localaws.resources import Context, UnknownInvoke

WHERE = Context(endpoint_url=None, region="eu-west-1", program_dir=Path("."), account_id="111122223333")


def test_account_region_and_partition_come_from_the_context() -> None:
    identity = resources.answer(WHERE, "aws:index/getCallerIdentity:getCallerIdentity", {})
    assert identity["accountId"] == "111122223333" and identity["arn"].startswith(
        "arn:aws:iam::111122223333:"
    )
    region = resources.answer(WHERE, "aws:index/getRegion:getRegion", {})
    assert region["name"] == region["region"] == "eu-west-1"
    assert resources.answer(WHERE, "aws:index/getPartition:getPartition", {})["dnsSuffix"] == "amazonaws.com"


def test_policy_documents_render_like_the_provider_with_a_stable_id() -> None:
    args = {
        "statements": [
            {"sid": "Read", "actions": ["s3:GetObject"], "resources": ["arn:aws:s3:::b/*"]},
        ]
    }
    first = resources.answer(WHERE, "aws:iam/getPolicyDocument:getPolicyDocument", args)
    again = resources.answer(WHERE, "aws:iam/getPolicyDocument:getPolicyDocument", args)
    doc = json.loads(first["json"])
    # single values are strings, as the provider renders them
    assert doc["Statement"] == [
        {"Sid": "Read", "Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"}
    ]
    assert json.loads(first["minifiedJson"]) == doc and " " not in first["minifiedJson"]
    assert first["id"] == again["id"]


def test_an_unanswered_provider_function_names_where_to_add_it() -> None:
    with pytest.raises(UnknownInvoke, match=r"aws:ec2/getAmi:getAmi.*localaws/resources/invokes\.py"):
        resources.answer(WHERE, "aws:ec2/getAmi:getAmi", {})
