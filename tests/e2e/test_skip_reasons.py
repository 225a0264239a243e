"""The e2e test's skip logic, offline: it names what is missing and how to fix it."""

from __future__ import annotations

from collections.abc import Callable

from tests.e2e.scenario import STACK_ENV, e2e_skip_reason


def _which(found: bool) -> Callable[[str], str | None]:
    return lambda name: f"/usr/bin/{name}" if found else None


def test_no_stack_name_is_the_first_reason() -> None:
    reason = e2e_skip_reason({}, _which(True), lambda: object())
    assert reason is not None and STACK_ENV in reason and "dev" in reason


def test_missing_pulumi_cli() -> None:
    reason = e2e_skip_reason({STACK_ENV: "dev"}, _which(False), lambda: object())
    assert reason is not None and "Pulumi CLI is not on PATH" in reason


def test_missing_aws_credentials() -> None:
    reason = e2e_skip_reason({STACK_ENV: "dev"}, _which(True), lambda: None)
    assert reason is not None and "no AWS credentials" in reason


def test_everything_present_runs() -> None:
    assert e2e_skip_reason({STACK_ENV: "dev"}, _which(True), lambda: object()) is None
