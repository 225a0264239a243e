"""IAM pieces every component's roles share."""

import pulumi_aws as aws
from pulumi import Output


def assume_role_policy(service: str) -> Output[str]:
    """The trust policy letting one AWS service (``lambda.amazonaws.com``) assume a role."""
    return aws.iam.get_policy_document_output(
        statements=[
            {
                "effect": "Allow",
                "actions": ["sts:AssumeRole"],
                "principals": [{"type": "Service", "identifiers": [service]}],
            }
        ]
    ).json
