"""The end-to-end scenario, shared: the real-AWS test (``tests/e2e``) and its local twin
(``tests/integration/test_e2e_local_twin.py``) call the very same function on a stack's outputs.

Upload the verify photos by bucket name and through the API, wait, and assert what a user sees:
every item ``done`` with the contracted fields, every deployed variant with the right format and
size, ``GET /images/{id}`` returning the same item, 404/403 on the API's error paths.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Mapping
from typing import Any

import boto3

from verify.check import run_verify
from verify.photos import generate_photos
from verify.report import VerifyReport

STACK_ENV = "IMGPIPE_E2E_STACK"
KEEP_ENV = "IMGPIPE_E2E_KEEP"


def assert_pipeline_end_to_end(outputs: dict[str, Any], *, timeout: float = 120) -> VerifyReport:
    """Run upload-and-verify through both paths on ``outputs`` and assert that everything passed."""
    report = run_verify(outputs, via=("s3", "api"), timeout=timeout)
    table = report.table(colour=False)
    assert report.ok, f"upload-and-verify failed:\n{table}"

    photos = generate_photos()
    assert len(report.uploads) == 2 * len(photos), table
    assert {(u.photo.name, u.via) for u in report.uploads} == {
        (p.name, via) for p in photos for via in ("s3", "api")
    }
    checked = {(c.subject, c.name) for c in report.checks}
    for upload in report.uploads:
        item = upload.item or {}
        assert item.get("status") == "done", (upload.subject, item)
        # Every variant the item records was fetched and checked as an object, and the reverse.
        assert upload.variants, f"{upload.subject}: no variant objects checked"
        assert set(upload.variants) == set(item.get("variants") or {}), upload.subject
        assert (upload.subject, "GET /images/{id}") in checked, upload.subject
    assert ("api", "GET unknown id → 404 JSON") in checked
    assert ("api", "no x-api-key → 403") in checked
    return report


def e2e_skip_reason(
    env: Mapping[str, str] | None = None,
    which: Callable[[str], str | None] = shutil.which,
    credentials: Callable[[], Any] | None = None,
) -> str | None:
    """Why the real-AWS end-to-end test cannot run here, or None when it can."""
    env = os.environ if env is None else env
    if not env.get(STACK_ENV):
        return (
            f"{STACK_ENV} is not set: set it to the Pulumi stack to deploy, test and destroy "
            f"(e.g. {STACK_ENV}=dev; needs the Pulumi CLI and AWS credentials)"
        )
    if which("pulumi") is None:
        return (
            "the Pulumi CLI is not on PATH: install it (https://www.pulumi.com/docs/install/), "
            "then `pulumi login`"
        )
    get = credentials or (lambda: boto3.session.Session().get_credentials())
    if get() is None:
        return (
            "no AWS credentials (boto3 found none): configure a profile, `aws sso login`, or "
            "AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY"
        )
    return None
