"""The API redeploys whenever anything it serves changes (issue 11).

A Deployment is a snapshot: the stage serves it until a new one is created, and one is created
only when the Deployment's ``triggers`` change. The trigger is derived from the inputs of every
API child as it is registered (components/api_snapshot.py). These tests change child inputs
under mocks, through a transformation on the UploadApi (as if the program had been edited), and
assert a new trigger: one mutation per child *kind* found in the graph (no list of kinds here),
the cases a hand-kept summary used to miss, and a kind that does not exist in the API yet.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pulumi
import pulumi_aws as aws
import pytest
from pulumi import Output, ResourceOptions

from components.api_snapshot import DeploymentSnapshot, in_snapshot
from components.upload_api import UploadApi
from tests.unit.mocks import Graph
from tests.unit.test_upload_api import Mocks, make_args

Mutation = Callable[[pulumi.ResourceTransformationArgs], pulumi.ResourceTransformationResult | None]


def deploy(mutate: Mutation | None = None, **overrides: Any) -> tuple[str, Mocks]:
    """Build the UploadApi under mocks; the deployment's trigger and the recorded resources."""
    mocks = Mocks()
    pulumi.runtime.set_mocks(mocks, project="imgpipe", stack="dev", preview=False)

    @pulumi.runtime.test
    def program() -> Output[Any]:
        opts = ResourceOptions(transformations=[mutate]) if mutate else None
        return UploadApi("api", make_args(**overrides), opts).api_url

    program()
    [deployment] = mocks.of("apigateway/deployment:Deployment")
    return deployment.inputs["triggers"]["redeployment"], mocks


def change(resource_name: str, prop: str, new: Callable[[Any], Any]) -> Mutation:
    """A transformation replacing ``prop`` of the child ``resource_name`` with ``new(old)``."""

    def mutate(args: pulumi.ResourceTransformationArgs) -> pulumi.ResourceTransformationResult | None:
        if args.name != resource_name:
            return None
        assert prop in args.props, f"{resource_name} has no input {prop}: {sorted(args.props)}"
        return pulumi.ResourceTransformationResult({**args.props, prop: new(args.props[prop])}, args.opts)

    return mutate


@pytest.fixture(scope="module")
def baseline() -> tuple[str, Mocks]:
    return deploy()


def _api_children(mocks: Mocks) -> Iterator[pulumi.runtime.MockResourceArgs]:
    return (r for r in mocks.resources if in_snapshot(r.typ))


def test_trigger_is_stable_and_ignores_what_the_api_does_not_serve(baseline: tuple[str, Mocks]) -> None:
    trigger, _ = baseline
    assert len(trigger) == 64
    assert deploy()[0] == trigger  # no change, no redeploy
    # the render Lambda's memory is not part of the API: no needless new deployment
    assert deploy(memory_mb=3008)[0] == trigger


def test_every_child_kind_is_in_the_snapshot(baseline: tuple[str, Mocks]) -> None:
    _, mocks = baseline
    kinds = {r.typ for r in _api_children(mocks)}
    # what the issue names, as the graph has them (a guard against an empty snapshot)
    assert {
        "aws:apigateway/restApi:RestApi",
        "aws:apigateway/resource:Resource",
        "aws:apigateway/method:Method",
        "aws:apigateway/integration:Integration",
        "aws:apigateway/methodResponse:MethodResponse",
        "aws:apigateway/integrationResponse:IntegrationResponse",
        "aws:apigateway/response:Response",
        "aws:apigateway/requestValidator:RequestValidator",
        "aws:lambda/permission:Permission",
    } <= kinds


def _one_per_kind() -> list[tuple[str, str]]:
    """(child, input) for the first child of every kind in the API: its first plain-string input."""
    inputs: dict[str, tuple[str, list[str]]] = {}

    def look(args: pulumi.ResourceTransformationArgs) -> None:
        if in_snapshot(args.type_):
            plain = [k for k, v in sorted(args.props.items()) if isinstance(v, str) and v]
            inputs[args.name] = (args.type_, plain)

    deploy(look)
    first: dict[str, tuple[str, str]] = {}
    for name, (kind, plain) in sorted(inputs.items()):
        if plain:
            first.setdefault(kind, (name, plain[0]))
    assert set(first) == {kind for kind, _ in inputs.values()}, "a kind without a plain input to change"
    return sorted(first.values())


@pytest.mark.parametrize(("resource_name", "prop"), _one_per_kind())
def test_changing_any_kind_of_child_redeploys(
    baseline: tuple[str, Mocks], resource_name: str, prop: str
) -> None:
    trigger, _ = deploy(change(resource_name, prop, lambda old: f"{old}-changed"))
    assert trigger != baseline[0], f"changing {resource_name}.{prop} did not change the deployment"


@pytest.mark.parametrize(
    ("resource_name", "prop", "new"),
    [
        # what the hand-kept summary used to miss
        ("api-get-image-integration", "request_templates", lambda t: {**t, "application/json": "{}"}),
        ("api-upload-integration", "timeout_milliseconds", lambda _: 10000),
        ("api-get-image-200-integration", "response_templates", lambda t: {"application/json": "{}"}),
        ("api-default-4xx", "response_templates", lambda t: {"application/json": '{"error": "x"}'}),
        # and the rest of the API's shape
        ("api-upload-400-integration", "selection_pattern", lambda _: "4\\d\\d|5\\d\\d"),
        ("api-params-validator", "validate_request_body", lambda _: True),
        ("api-render-invoke", "source_arn", lambda arn: Output.concat(arn, "x")),
        ("api-image", "path_part", lambda _: "{id}"),
        ("api-rest-api", "binary_media_types", lambda types: [*types, "application/pdf"]),
    ],
)
def test_changing_a_named_input_redeploys(
    baseline: tuple[str, Mocks], resource_name: str, prop: str, new: Callable[[Any], Any]
) -> None:
    trigger, _ = deploy(change(resource_name, prop, new))
    assert trigger != baseline[0]


def test_a_child_kind_added_later_is_covered_without_a_list(
    baseline: tuple[str, Mocks], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A future API child (here a Model, which the API does not use) redeploys on change."""
    created = UploadApi._gateway_responses
    schema = {"value": '{"type": "object"}'}

    def with_model(self: UploadApi) -> None:
        created(self)
        self._deps.append(
            aws.apigateway.Model(
                f"{self._name}-error-model",
                rest_api=self.rest_api.id,
                name="Error",
                content_type="application/json",
                schema=schema["value"],
                opts=ResourceOptions(parent=self),
            )
        )

    monkeypatch.setattr(UploadApi, "_gateway_responses", with_model)
    with_model_trigger, mocks = deploy()
    assert mocks.of("apigateway/model:Model")
    assert with_model_trigger != baseline[0]
    schema["value"] = '{"type": "object", "required": ["message"]}'
    assert deploy()[0] != with_model_trigger


def test_snapshot_records_only_api_kinds_and_stops_at_the_trigger() -> None:
    assert in_snapshot("aws:apigateway/authorizer:Authorizer")  # a kind imgpipe does not use yet
    assert not in_snapshot("aws:apigateway/stage:Stage")
    assert not in_snapshot("aws:lambda/function:Function")
    snapshot = DeploymentSnapshot()

    def registered(typ: str) -> None:
        args = pulumi.ResourceTransformationArgs(None, typ, "x", {"a": 1}, ResourceOptions())  # type: ignore[arg-type]
        snapshot.transformation(args)

    registered("aws:apigateway/method:Method")
    registered("aws:iam/role:Role")
    snapshot.trigger()
    registered("aws:apigateway/integration:Integration")  # after the deployment: not its snapshot
    assert snapshot.kinds == {"aws:apigateway/method:Method"}


def test_deployment_depends_on_every_api_child(dev: Graph) -> None:
    """The snapshot is taken when the Deployment is created: every API child must exist by then."""
    deployment = dev.one("aws:apigateway/deployment:Deployment")
    api = dev.one("imgpipe:index:UploadApi")
    children = [r for r in dev.children(api) if in_snapshot(r.type)]
    assert len(children) > 50
    missing = [r.name for r in children if r.urn not in deployment.dependencies]
    assert missing == []
