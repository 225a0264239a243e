"""Typed values the components take: a data store and the choices a stack makes.

Enums rather than strings checked at run time, and a small object for "a bucket or table with
its KMS key" rather than three loose parameters per store. No ``from __future__ import
annotations`` in component modules: Pulumi's component schema analyzer reads these annotations
as types, and every field's docstring becomes its description.
"""

from dataclasses import dataclass
from enum import StrEnum

from pulumi import Input


@dataclass(frozen=True)
class DataStore:
    """A bucket or table a function reads or writes, with the customer managed KMS key that
    encrypts it (grants name the exact ARNs)."""

    name: Input[str]
    """Bucket or table name (what the function's environment carries)."""
    arn: Input[str]
    """Bucket or table ARN (what IAM statements name)."""
    key_arn: Input[str]
    """ARN of the KMS key that encrypts it."""


class Architecture(StrEnum):
    """Lambda CPU architecture of the functions and the layer."""

    ARM64 = "arm64"
    """Graviton: cheaper per GB-second."""
    X86_64 = "x86_64"
    """Intel/AMD."""


class ApiAuth(StrEnum):
    """How API callers authenticate."""

    API_KEY = "api_key"
    """An ``x-api-key`` header, with the usage plan's throttle and daily quota."""
    IAM = "iam"
    """SigV4-signed requests (``AWS_IAM``); no API key or quota."""
