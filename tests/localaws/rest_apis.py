"""REST APIs built in moto for the stage-server tests: a route is one call, not four.

``route`` does what a Pulumi program's Method + Integration + MethodResponse + IntegrationResponse
resources do: ``put_method``, ``put_integration``, then for each status code a method response
and an integration response.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# A MOCK integration answering 200 (its integration response gives the body).
MOCK_200: Mapping[str, Any] = {
    "type": "MOCK",
    "requestTemplates": {"application/json": '{"statusCode": 200}'},
}


def rest_api(apigw: Any, name: str, binary_media_types: tuple[str, ...] = ()) -> tuple[str, str]:
    """A new REST API: (api id, root resource id)."""
    api_id = apigw.create_rest_api(name=name)["id"]
    for media_type in binary_media_types:
        # moto drops binaryMediaTypes on create; its patch "add" takes the value (AWS reads the path)
        path = "/binaryMediaTypes/" + media_type.replace("/", "~1")
        apigw.update_rest_api(
            restApiId=api_id, patchOperations=[{"op": "add", "path": path, "value": media_type}]
        )
    root = apigw.get_resources(restApiId=api_id)["items"][0]["id"]
    return api_id, root


def resource(apigw: Any, api_id: str, parent_id: str, part: str) -> str:
    return str(apigw.create_resource(restApiId=api_id, parentId=parent_id, pathPart=part)["id"])


def route(
    apigw: Any,
    api_id: str,
    resource_id: str,
    http_method: str,
    integration: Mapping[str, Any],
    responses: Mapping[str, Mapping[str, Any]] | None = None,
    **method: Any,
) -> None:
    """One method: ``method`` keywords go to ``put_method`` (``authorizationType`` NONE unless
    given), ``integration`` to ``put_integration``; ``responses`` maps a status code to its
    integration response's keywords (default: one ``200`` passing the body through); the method
    response declares the headers the integration response maps."""
    where = {"restApiId": api_id, "resourceId": resource_id, "httpMethod": http_method}
    apigw.put_method(**where, **{"authorizationType": "NONE", **method})
    apigw.put_integration(**where, **integration)
    for status, integration_response in (responses if responses is not None else {"200": {}}).items():
        # every mapped method.response.header must be declared on the method response (as on AWS)
        declared = {name: False for name in integration_response.get("responseParameters") or {}}
        apigw.put_method_response(**where, statusCode=status, responseParameters=declared)
        apigw.put_integration_response(**where, statusCode=status, **integration_response)
