"""The users' GitHub Actions workflow: valid against GitHub's schema, and shaped as promised
(tests and preview on PRs, up + verify on main, OIDC role instead of AWS keys)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
WORKFLOW = ROOT / ".github" / "workflows" / "imgpipe.yml"


def _schema_check(path: Path) -> subprocess.CompletedProcess[str]:
    # The schema ships inside check-jsonschema (vendored), so this runs offline.
    return subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.github-workflows", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture(scope="module")
def text() -> str:
    return WORKFLOW.read_text()


@pytest.fixture(scope="module")
def wf(text: str) -> dict[str, Any]:
    data = yaml.safe_load(text)
    # YAML 1.1 reads the bare key `on` as True
    if True in data:
        data["on"] = data.pop(True)
    return data


def _steps(wf: dict[str, Any], job: str) -> list[dict[str, Any]]:
    return wf["jobs"][job]["steps"]


def _step_index(steps: list[dict[str, Any]], *, uses: str | None = None, run: str | None = None) -> int:
    for i, step in enumerate(steps):
        if uses and str(step.get("uses", "")).startswith(uses + "@"):
            return i
        if run and run in str(step.get("run", "")):
            return i
    raise AssertionError(f"no step with uses={uses!r} run={run!r}")


def test_workflow_matches_github_schema() -> None:
    result = _schema_check(WORKFLOW)
    assert result.returncode == 0, result.stdout + result.stderr


def test_schema_check_rejects_a_broken_workflow(tmp_path: Path, text: str) -> None:
    # proves the validator is not vacuous: a misspelt key fails it
    broken = tmp_path / "broken.yml"
    broken.write_text(text.replace("runs-on:", "runs_on:", 1))
    assert _schema_check(broken).returncode != 0


def test_triggers(wf: dict[str, Any]) -> None:
    assert wf["on"]["pull_request"]["branches"] == ["main"]
    assert wf["on"]["push"]["branches"] == ["main"]


def test_least_privilege_and_oidc(wf: dict[str, Any]) -> None:
    assert wf["permissions"] == {"contents": "read"}
    for name, job in wf["jobs"].items():
        uses_aws = any(
            str(s.get("uses", "")).startswith("aws-actions/configure-aws-credentials@") for s in job["steps"]
        )
        perms = job.get("permissions", wf["permissions"])
        if uses_aws:
            assert perms.get("id-token") == "write", f"{name} needs id-token: write for OIDC"
            assert perms.get("contents") == "read"
        else:
            assert "id-token" not in perms, f"{name} has no use for an OIDC token"


def test_no_long_lived_aws_keys(wf: dict[str, Any], text: str) -> None:
    for forbidden in (
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "aws-access-key-id",
        "aws-secret-access-key",
    ):
        assert forbidden not in text
    for name, job in wf["jobs"].items():
        for step in job["steps"]:
            if str(step.get("uses", "")).startswith("aws-actions/configure-aws-credentials@"):
                role = step["with"]["role-to-assume"]
                assert role.startswith("${{ vars."), f"{name}: role-to-assume must come from a repo variable"
                assert step["with"]["aws-region"]


def test_secrets_only_where_pulumi_runs(wf: dict[str, Any]) -> None:
    assert "secrets." not in yaml.safe_dump(wf.get("env", {}))
    assert "secrets." not in yaml.safe_dump(wf["jobs"]["test"])


def test_pull_request_runs_tests_then_preview_of_dev(wf: dict[str, Any]) -> None:
    test_steps = _steps(wf, "test")
    assert _step_index(test_steps, uses="actions/checkout") < _step_index(test_steps, run="make test")
    assert _step_index(test_steps, uses="actions/setup-python") < _step_index(test_steps, run="make test")

    preview = wf["jobs"]["preview"]
    assert "pull_request" in preview["if"]
    assert preview["needs"] == "test"
    steps = preview["steps"]
    creds = _step_index(steps, uses="aws-actions/configure-aws-credentials")
    pulumi = _step_index(steps, uses="pulumi/actions")
    assert _step_index(steps, run="make layer") < pulumi
    assert creds < pulumi
    assert steps[pulumi]["with"]["command"] == "preview"
    assert steps[pulumi]["with"]["stack-name"] == "${{ env.STACK }}"
    assert steps[pulumi]["with"]["policyPacks"] == "policy"
    assert wf["env"]["STACK"] == "${{ vars.PULUMI_STACK || 'dev' }}"


def test_push_to_main_runs_up_then_verify(wf: dict[str, Any]) -> None:
    deploy = wf["jobs"]["deploy"]
    assert "github.event_name == 'push'" in deploy["if"]
    assert "refs/heads/main" in deploy["if"]
    assert deploy["needs"] == "test"
    steps = deploy["steps"]
    layer = _step_index(steps, run="make layer")
    creds = _step_index(steps, uses="aws-actions/configure-aws-credentials")
    up = _step_index(steps, uses="pulumi/actions")
    verify = _step_index(steps, run="make verify STACK=")
    assert layer < up and creds < up < verify
    assert steps[up]["with"]["command"] == "up"
    assert steps[up]["with"]["stack-name"] == "${{ env.STACK }}"
    assert steps[up]["with"]["policyPacks"] == "policy"


def test_concurrency(wf: dict[str, Any]) -> None:
    assert "github.event.pull_request.number" in wf["concurrency"]["group"]
    assert wf["concurrency"]["cancel-in-progress"] == "${{ github.event_name == 'pull_request' }}"
    deploy = wf["jobs"]["deploy"]["concurrency"]
    assert deploy["cancel-in-progress"] is False
    assert deploy["group"].startswith("imgpipe-deploy-")


def test_actions_pinned_to_a_major_version(wf: dict[str, Any]) -> None:
    used = {str(s["uses"]) for job in wf["jobs"].values() for s in job["steps"] if "uses" in s}
    assert {u.split("@")[0] for u in used} == {
        "actions/checkout",
        "actions/setup-python",
        "aws-actions/configure-aws-credentials",
        "pulumi/actions",
    }
    for ref in used:
        assert re.fullmatch(r"[\w.-]+/[\w.-]+@(v\d+|[0-9a-f]{40})", ref), f"{ref} is not pinned"


def test_no_expressions_inside_shell_scripts(wf: dict[str, Any]) -> None:
    # values reach scripts through env, never by ${{ }} text substitution (script injection)
    for job in wf["jobs"].values():
        for step in job["steps"]:
            assert "${{" not in str(step.get("run", "")), step


def test_python_matches_the_lambda_runtime(wf: dict[str, Any]) -> None:
    assert wf["env"]["PYTHON_VERSION"] == "3.12"
    for job in wf["jobs"].values():
        for step in job["steps"]:
            if str(step.get("uses", "")).startswith("actions/setup-python@"):
                assert step["with"]["python-version"] == "${{ env.PYTHON_VERSION }}"


def test_workflow_refers_to_things_that_exist() -> None:
    assert (ROOT / "policy" / "PulumiPolicy.yaml").is_file()
    targets = set(re.findall(r"^([a-z-]+):", (ROOT / "Makefile").read_text(), flags=re.M))
    assert {"test", "layer", "verify"} <= targets, f"Makefile targets: {sorted(targets)}"
