"""The users' GitHub Actions workflow: valid against GitHub's schema, and shaped as promised
(tests and preview on PRs, up + verify on main, OIDC roles instead of AWS keys), with its trust
boundaries: a mandatory read-only preview role, the deploy role only in environment `dev`, Pulumi
secrets only in the steps that run Pulumi, actions pinned to commit SHAs (issue 13)."""

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
DEPENDABOT = ROOT / ".github" / "dependabot.yml"
# Only the Pulumi backend's credentials are secrets here; AWS comes from OIDC.
PULUMI_SECRETS = {"PULUMI_ACCESS_TOKEN", "PULUMI_CONFIG_PASSPHRASE"}


def _schema_check(path: Path, schema: str = "vendor.github-workflows") -> subprocess.CompletedProcess[str]:
    # The schema ships inside check-jsonschema (vendored), so this runs offline.
    return subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema", schema, str(path)],
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


def _runs_pulumi(step: dict[str, Any]) -> bool:
    # pulumi/actions runs the CLI; `make verify STACK=…` reads the stack outputs with it.
    uses, run = str(step.get("uses", "")), str(step.get("run", ""))
    return uses.startswith("pulumi/actions@") or "make verify" in run


def test_secrets_only_in_the_steps_that_run_pulumi(wf: dict[str, Any]) -> None:
    # `make test` / `make layer` run the PR's code too: they must never see the Pulumi token.
    assert "secrets." not in yaml.safe_dump(wf.get("env", {}))
    for name, job in wf["jobs"].items():
        assert "secrets." not in yaml.safe_dump(job.get("env", {})), f"{name}: secrets in the job-level env"
        for step in job["steps"]:
            env = step.get("env", {})
            with_secrets = {k for k, v in env.items() if "secrets." in str(v)}
            if _runs_pulumi(step):
                assert with_secrets == PULUMI_SECRETS, f"{name}: {step}"
                assert all(env[k] == f"${{{{ secrets.{k} }}}}" for k in with_secrets)
            else:
                assert not with_secrets, f"{name}: a step that does not run Pulumi gets {with_secrets}"
            assert "secrets." not in yaml.safe_dump(step.get("with", {})), f"{name}: secret in with: {step}"
    pulumi_steps = [s for job in wf["jobs"].values() for s in job["steps"] if _runs_pulumi(s)]
    assert len(pulumi_steps) == 3  # preview, up, verify


def _role(job: dict[str, Any]) -> str:
    steps = job["steps"]
    return steps[_step_index(steps, uses="aws-actions/configure-aws-credentials")]["with"]["role-to-assume"]


def test_preview_uses_its_own_role_never_the_deploy_role(wf: dict[str, Any]) -> None:
    preview = wf["jobs"]["preview"]
    assert _role(preview) == "${{ vars.AWS_PREVIEW_ROLE_ARN }}"
    # no fallback anywhere in the job: not in the role, not in the variable check
    assert "AWS_ROLE_ARN" not in yaml.safe_dump(preview).replace("AWS_PREVIEW_ROLE_ARN", "")
    check = preview["steps"][_step_index(preview["steps"], run='-z "$ROLE_ARN"')]
    assert check["env"]["ROLE_ARN"] == "${{ vars.AWS_PREVIEW_ROLE_ARN }}"
    assert "AWS_PREVIEW_ROLE_ARN" in check["run"] and "exit 1" in check["run"]
    assert "environment" not in preview  # its OIDC subject stays repo:<owner>/<repo>:pull_request


def test_deploy_role_only_in_environment_dev(wf: dict[str, Any]) -> None:
    deploy = wf["jobs"]["deploy"]
    # the OIDC subject is then repo:<owner>/<repo>:environment:dev, the only one the role trusts
    assert deploy["environment"] == "dev"
    assert _role(deploy) == "${{ vars.AWS_ROLE_ARN }}"
    for name, job in wf["jobs"].items():
        roles = [
            s["with"]["role-to-assume"]
            for s in job["steps"]
            if str(s.get("uses", "")).startswith("aws-actions/configure-aws-credentials@")
        ]
        assert all("||" not in role for role in roles), f"{name}: a role with a fallback"


def test_checkout_keeps_no_token(wf: dict[str, Any]) -> None:
    for name, job in wf["jobs"].items():
        for step in job["steps"]:
            if str(step.get("uses", "")).startswith("actions/checkout@"):
                assert step["with"]["persist-credentials"] is False, name


def test_pip_cache_keys_are_the_locks(wf: dict[str, Any]) -> None:
    for job in wf["jobs"].values():
        for step in job["steps"]:
            if str(step.get("uses", "")).startswith("actions/setup-python@"):
                paths = step["with"]["cache-dependency-path"].split()
                assert "requirements-dev.txt" in paths
                assert all((ROOT / p).is_file() for p in paths), paths


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


# `uses: owner/repo@<40-hex commit> # vX.Y.Z`: a tag can be moved to other code, a commit cannot.
# The SHAs were read from each action's repository (`git rev-parse 'vX.Y.Z^{commit}'`), never typed.
PIN = re.compile(r"^\s*(?:- )?uses: ([\w.-]+/[\w.-]+)@([0-9a-f]{40}) # (v\d+\.\d+\.\d+)$")


def test_actions_pinned_to_a_release_commit(wf: dict[str, Any], text: str) -> None:
    used = {str(s["uses"]) for job in wf["jobs"].values() for s in job["steps"] if "uses" in s}
    assert {u.split("@")[0] for u in used} == {
        "actions/checkout",
        "actions/setup-python",
        "aws-actions/configure-aws-credentials",
        "pulumi/actions",
    }
    lines = [line for line in text.splitlines() if re.match(r"^\s*(- )?uses:", line)]
    assert len(lines) == sum(1 for job in wf["jobs"].values() for s in job["steps"] if "uses" in s)
    pins: dict[str, set[tuple[str, str]]] = {}
    for line in lines:
        match = PIN.match(line)
        assert match, f"not pinned to a full commit SHA with its tag in a comment: {line.strip()}"
        pins.setdefault(match[1], set()).add((match[2], match[3]))
    # one action, one commit: a half-done update would run two versions in one workflow
    assert all(len(p) == 1 for p in pins.values()), pins


def test_pin_check_rejects_a_tag(text: str) -> None:
    line = next(line for line in text.splitlines() if "actions/checkout@" in line)
    assert PIN.match(line)
    assert not PIN.match(re.sub(r"@[0-9a-f]{40}", "@v7", line))
    assert not PIN.match(line.split(" #")[0])  # the tag comment is required too


def test_dependabot_updates_actions_and_pip() -> None:
    result = _schema_check(DEPENDABOT, "vendor.dependabot")
    assert result.returncode == 0, result.stdout + result.stderr
    updates = yaml.safe_load(DEPENDABOT.read_text())["updates"]
    ecosystems = {u["package-ecosystem"]: u for u in updates}
    assert set(ecosystems) == {"github-actions", "pip"}
    dirs = ecosystems["pip"]["directories"]
    # every directory with a lock file
    inputs = [*ROOT.glob("requirements*.in"), *ROOT.glob("[!.]*/requirements*.in")]
    assert {d.strip("/") for d in dirs} == {p.parent.relative_to(ROOT).as_posix().strip(".") for p in inputs}


def test_no_expressions_inside_shell_scripts(wf: dict[str, Any]) -> None:
    # values reach scripts through env, never by ${{ }} text substitution (script injection)
    for job in wf["jobs"].values():
        for step in job["steps"]:
            assert "${{" not in str(step.get("run", "")), step


def test_python_matches_the_lambda_runtime(wf: dict[str, Any]) -> None:
    from layer import build

    # the runtime's minor version, at a release whose layer bytecode digests are recorded
    assert wf["env"]["PYTHON_VERSION"].startswith(f"{build.DEFAULT_PYTHON}.")
    assert wf["env"]["PYTHON_VERSION"] in build.recorded_bytecode_digests()
    for job in wf["jobs"].values():
        for step in job["steps"]:
            if str(step.get("uses", "")).startswith("actions/setup-python@"):
                assert step["with"]["python-version"] == "${{ env.PYTHON_VERSION }}"


def test_workflow_refers_to_things_that_exist() -> None:
    assert (ROOT / "policy" / "PulumiPolicy.yaml").is_file()
    targets = set(re.findall(r"^([a-z-]+):", (ROOT / "Makefile").read_text(), flags=re.M))
    assert {"test", "layer", "verify"} <= targets, f"Makefile targets: {sorted(targets)}"
