"""Embedded local AWS: deploy the real Pulumi program into moto and run the real handler.

``python -m localaws up|down|status|redrive|faults`` (``make up`` / ``make down``). The program
and its components never import this package.
"""

# moto's default account: every local resource lives in it.
ACCOUNT_ID = "123456789012"


def client_args(endpoint_url: str | None, region: str) -> dict[str, str | None]:
    """boto3 client/resource arguments for the local endpoint (moto takes any credentials);
    ``endpoint_url`` None: boto3's default endpoints (inside moto's ``mock_aws``, in tests)."""
    return {
        "region_name": region,
        "endpoint_url": endpoint_url,
        "aws_access_key_id": "local",
        "aws_secret_access_key": "local",
    }
