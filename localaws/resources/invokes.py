"""Provider functions (Pulumi ``invoke``s) answered as the AWS provider answers them.

The program asks for its account, region and partition and renders IAM documents through
``aws.iam.get_policy_document``; each answer here is registered for its token, like the
resource handlers. The unit tests' mocks answer through the same registry.
"""

from __future__ import annotations

import hashlib
from typing import Any

from localaws import policy_documents
from localaws.resources import Context, register_invoke


@register_invoke("aws:iam/getPolicyDocument:getPolicyDocument")
def get_policy_document(ctx: Context, args: dict[str, Any]) -> dict[str, Any]:
    text = policy_documents.render(args)
    # the provider's id is a hash of the document: stable for the same document
    digest = hashlib.sha256(text.encode()).hexdigest()[:10]
    return {"json": text, "minifiedJson": policy_documents.minified(text), "id": digest}


@register_invoke("aws:index/getCallerIdentity:getCallerIdentity")
def get_caller_identity(ctx: Context, args: dict[str, Any]) -> dict[str, Any]:
    account = ctx.account_id
    return {
        "accountId": account,
        "arn": f"arn:aws:iam::{account}:user/local",
        "userId": "LOCAL",
        "id": account,
    }


@register_invoke("aws:index/getRegion:getRegion")
def get_region(ctx: Context, args: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": ctx.region,
        "region": ctx.region,
        "id": ctx.region,
        "description": "local",
        "endpoint": f"ec2.{ctx.region}.amazonaws.com",
    }


@register_invoke("aws:index/getPartition:getPartition")
def get_partition(ctx: Context, args: dict[str, Any]) -> dict[str, Any]:
    return {
        "partition": "aws",
        "dnsSuffix": "amazonaws.com",
        "id": "aws",
        "reverseDnsPrefix": "com.amazonaws",
    }
