"""UploadApi: imgpipe's HTTP API (API Gateway REST) over the buckets, the table and two small Lambdas.

Routes (stage ``dev`` by default; every method needs ``x-api-key`` or SigV4 per ``api_auth``):

==========================================  =============================================================
``PUT  /uploads/{key+}``                    S3 integration into the upload bucket (≤ 10 MB, image/* body)
``POST /uploads``                           API Lambda: presigned S3 PUT URL for larger files
``GET  /images?source_key=…``               DynamoDB Query on ``by_source_key`` → clean JSON list
``GET  /images?status=…&limit=&cursor=``     DynamoDB Query on ``by_status``, newest first, paged
``GET  /images/{image_id}``                 DynamoDB GetItem → clean JSON item (404 JSON when absent)
``GET  /images/{image_id}/variants/{name}`` API Lambda: 302 to a short-lived presigned URL of a variant
``GET  /images/{image_id}/render?w=&h=…``   render Lambda: on-demand rendition, cached, 302 to it
``GET  /gallery``, ``/gallery/{file}``       the gallery page: S3 reads of its own objects, keyless
``OPTIONS`` on each                         MOCK CORS preflight (no auth, as browsers send none)
==========================================  =============================================================

Why the metadata GETs stay direct DynamoDB integrations: no Lambda on the hot read path (no cold
start, no invocation cost), and the item already is the answer. Each variant in the answer gets a
*stage-relative* ``url`` (``/images/<id>/variants/<name>``) built in the mapping template; that
route presigns at request time, so the URL in the JSON never expires and needs no S3 rights on the
client. Renditions also answer with a 302 to a presigned URL rather than inline bytes: a Lambda
proxy response is capped at 6 MB (base64 inflates it by a third) and API Gateway returns inline
binary only when the request's first ``Accept`` type is a binary media type, which curl and
browsers do not send by default.
"""

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_random as random
from pulumi import Input, Output, ResourceOptions

from components.api_snapshot import DeploymentSnapshot
from components.api_templates import (
    ACCESS_LOG_FORMAT,
    ERROR_TEMPLATE,
    GET_ITEM_RESPONSE_TEMPLATE,
    QUERY_RESPONSE_TEMPLATE,
    SOURCE_KEY_INDEX,
    STATUS_INDEX,
    UPLOAD_RESPONSE_TEMPLATE,
    get_item_request_template,
    preflight_template,
    query_request_template,
)
from components.gallery_site import StaticPage
from components.iam import assume_role_policy, dynamodb_key_grant, policy_document, s3_key_grant
from components.inputs import ApiAuth, Architecture, DataStore
from components.lambda_function import LambdaFunction, LambdaFunctionArgs, data_environment
from components.package import component_type, from_inputs, package_options
from function import env
from function.api_store import RENDER_PREFIX
from function.uploads import UPLOAD_CONTENT_TYPES
from function.variants import Variant

BINARY_MEDIA_TYPES = ["image/*", "application/octet-stream"]
PUSH_TO_CLOUDWATCH_LOGS = "arn:aws:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs"
HANDLER = "function.api.handler"
AUTHORIZER_HANDLER = "function.authorizer.handler"
AUTHORIZER_MEMORY_MB = 128  # string checks only
AUTHORIZER_TIMEOUT_S = 3
API_FUNCTION_MEMORY_MB = 256  # presign + redirect: no image work
API_FUNCTION_TIMEOUT_S = 10
CORS_ALLOW_HEADERS = "Content-Type,X-Api-Key,Authorization,X-Amz-Date,X-Amz-Security-Token"
CORS_EXPOSE_HEADERS = "ETag,x-amz-version-id,X-Cache,Location"
EXISTS_MESSAGE = (
    "an object with this key already exists and PUT /uploads never replaces one: to write a new "
    "version, POST /uploads with the key and overwrite set to true, then upload to the URL it returns"
)


@dataclass
class UploadApiArgs:
    """Everything :class:`UploadApi` needs from the rest of the stack and from config."""

    upload_bucket: DataStore
    """Bucket that ``PUT /uploads/{key+}`` and presigned uploads write into (uploads need
    ``kms:GenerateDataKey`` on its key, renders ``kms:Decrypt``)."""
    processed_bucket: DataStore
    """Bucket of the variants; renditions are cached in it under ``renders/``."""
    table: DataStore
    """Metadata table (partition key ``image_id``, GSI ``by_source_key``)."""
    code: pulumi.Archive
    """The function archive (``function/`` package at its root), shared with ImageProcessor."""
    layer_arn: Input[str]
    """Pillow + Powertools layer version ARN."""
    architecture: Architecture
    """CPU architecture of both functions (must match the layer)."""
    memory_mb: int
    """Memory of the render Lambda in MB (image work scales with it)."""
    timeout_seconds: int
    """Timeout of the render Lambda (API Gateway itself gives up after 29 s)."""
    log_retention_days: int
    """Retention of the functions' and the access logs' log groups."""
    variants: Sequence[Variant]
    """The renditions made of every upload (the variant route serves them by name)."""
    max_pixels: int
    """Renders refuse sources and outputs above this many pixels."""
    max_upload_mb: int
    """Largest upload ``POST /uploads`` will presign."""
    api_auth: ApiAuth
    """How callers authenticate: API key + usage plan, or SigV4 (IAM)."""
    cors_origins: list[str]
    """Origins allowed by CORS (``["*"]`` for any)."""
    throttle_rate_limit: float
    """Steady-state requests per second (stage and usage plan)."""
    throttle_burst_limit: int
    """Burst requests (stage and usage plan)."""
    quota_per_day: int
    """Requests per day per API key (usage plan quota); ignored with IAM auth."""
    stage_name: str = "dev"
    """The API Gateway stage (the last path segment of ``api_url``)."""
    manage_account_logging_role: bool = True
    """Set the region's API Gateway CloudWatch role (needed once per account+region for access
    logs). Turn off when the account already has one managed elsewhere."""
    presign_expires_seconds: int = 900
    """Lifetime of presigned upload/download URLs."""
    render_concurrency: int | None = None
    """Reserved concurrency of the render function, which is also its cap: renders cannot take
    the concurrency the image function needs (None: unreserved)."""
    max_animation_pixels: int = 100_000_000
    """Frames x pixels that animated renditions keep (longer animations are cut)."""
    page: StaticPage | None = None
    """Serve this static page at ``GET /gallery`` (+ ``/gallery/{file}``), without a key. Only with
    ``api_key`` auth: the page sends ``x-api-key``; it cannot SigV4-sign for ``iam``."""


def _check(args: UploadApiArgs) -> None:
    # the annotations are not enforced at run time: a plain string may arrive
    if args.api_auth not in tuple(ApiAuth):
        raise ValueError(f"api_auth must be one of {', '.join(ApiAuth)}, got {args.api_auth!r}")
    if args.architecture not in tuple(Architecture):
        raise ValueError(f"architecture must be one of {', '.join(Architecture)}, got {args.architecture!r}")
    if not args.cors_origins:
        raise ValueError("cors_origins must list at least one origin (use ['*'] to allow any)")
    for origin in args.cors_origins:
        if origin != "*" and not origin.startswith(("http://", "https://")):
            raise ValueError(f"CORS origin {origin!r} must be '*' or start with http:// or https://")
    if args.throttle_rate_limit <= 0 or args.throttle_burst_limit <= 0 or args.quota_per_day <= 0:
        raise ValueError("throttle_rate_limit, throttle_burst_limit and quota_per_day must be positive")
    if args.max_upload_mb <= 0:
        raise ValueError(f"max_upload_mb must be positive, got {args.max_upload_mb}")


def cors_allow_origin(origins: Sequence[str]) -> str:
    """The static ``Access-Control-Allow-Origin`` for answers that cannot see the request's origin
    (gateway responses, integration responses): ``*`` or the first configured origin. Preflights and
    the Lambdas echo the request's origin when it is one of several configured."""
    return "*" if "*" in origins else origins[0]


def _policy(statements: list[dict[str, Any]]) -> Output[str]:
    return policy_document(statements)


class UploadApi(pulumi.ComponentResource):
    """The REST API, its Lambdas, roles, key, usage plan, stage and access logs.

    Attributes: ``api_url`` (stage invoke URL, no trailing slash), ``gallery_url`` (``api_url`` +
    ``/gallery`` with a ``page`` and ``api_key`` auth, else ``""``), ``api_key`` (secret; ``""``
    with ``iam`` auth), ``rest_api_id``, ``rest_api_name``, ``stage_name``, ``api_function_name``,
    ``render_function_name``.
    """

    api_url: Output[str]
    """The stage's invoke URL, no trailing slash."""
    gallery_url: Output[str]
    """``api_url`` + ``/gallery`` (the gallery page) with a ``page`` and API-key auth, else empty."""
    api_key: Output[str]
    """The API key (secret); empty with IAM auth."""
    rest_api_id: Output[str]
    """The REST API id."""
    rest_api_name: Output[str]
    """The REST API name."""
    stage_name: str
    """The stage name (the last path segment of ``api_url``)."""

    def __init__(self, name: str, args: UploadApiArgs, opts: ResourceOptions | None = None) -> None:
        # The deployment trigger is derived from the inputs of every API child as it is
        # registered (components/api_snapshot.py): no change to the API can miss a redeploy.
        snapshot = DeploymentSnapshot()
        args = from_inputs(UploadApiArgs, args)  # a dict when constructed through the package
        super().__init__(
            component_type("UploadApi"),
            name,
            None,
            ResourceOptions.merge(
                package_options("imgpipe:api:UploadApi", opts),
                ResourceOptions(transformations=[snapshot.transformation]),
            ),
        )
        self._snapshot = snapshot
        _check(args)
        self._name = name
        self._args = args
        child = ResourceOptions(parent=self)
        stack = pulumi.get_stack()
        # Physical names carry the component's random suffix: two projects or stacks with the same
        # stack name in one account+region get different functions, log groups and API names.
        self.suffix = random.RandomId(f"{name}-suffix", byte_length=3, opts=child)
        self._base = f"{pulumi.get_project()}-{stack}-{name}"
        self._physical = self.suffix.hex.apply(lambda hex_: f"{self._base}-{hex_}")
        # The API's children, which the deployment depends on (its snapshot must see them all).
        self._deps: list[pulumi.Resource] = []
        self._origin = cors_allow_origin(args.cors_origins)
        # one region lookup for the integration URIs, the log ARNs and api_url
        self._region = aws.get_region_output().region
        self._account = aws.get_caller_identity_output().account_id

        self.rest_api = aws.apigateway.RestApi(
            f"{name}-rest-api",
            name=self._physical,
            description=f"imgpipe {stack}: uploads, image metadata, renditions",
            binary_media_types=BINARY_MEDIA_TYPES,
            endpoint_configuration={"types": "REGIONAL"},
            api_key_source="HEADER",
            opts=child,
        )
        api_id = self.rest_api.id
        root_id = self.rest_api.root_resource_id

        self.validator = aws.apigateway.RequestValidator(
            f"{name}-params-validator",
            rest_api=api_id,
            name="params",
            validate_request_parameters=True,
            validate_request_body=False,
            opts=child,
        )

        # ---- roles ----------------------------------------------------------------------
        self.integration_role = self._integration_role()
        self.api_function = self._function(
            "api",
            memory_mb=API_FUNCTION_MEMORY_MB,
            timeout=API_FUNCTION_TIMEOUT_S,
            statements=[
                # presigned uploads are signed with this role's credentials
                *self._upload_writes("PresignUploads"),
                # variant redirects read the item, then presign a GET on the processed bucket
                {
                    "sid": "ReadItems",
                    "actions": ["dynamodb:GetItem"],
                    "resources": [args.table.arn],
                },
                {
                    "sid": "ReadVariants",
                    "actions": ["s3:GetObject"],
                    "resources": [Output.concat(args.processed_bucket.arn, "/*")],
                },
                dynamodb_key_grant(
                    "DecryptTable", ["kms:Decrypt"], args.table.key_arn, args.table.name, self._region
                ),
                s3_key_grant(
                    "DecryptVariants",
                    ["kms:Decrypt"],
                    args.processed_bucket.key_arn,
                    args.processed_bucket.arn,
                    self._region,
                ),
            ],
        )
        self.render_function = self._function(
            "render",
            memory_mb=args.memory_mb,
            timeout=args.timeout_seconds,
            reserved_concurrency=args.render_concurrency,
            statements=[
                {"sid": "ReadItems", "actions": ["dynamodb:GetItem"], "resources": [args.table.arn]},
                {
                    "sid": "ReadSourcesAndRenders",
                    # the source is read by its version id: that is s3:GetObjectVersion
                    "actions": ["s3:GetObject", "s3:GetObjectVersion"],
                    "resources": [
                        Output.concat(args.upload_bucket.arn, "/*"),
                        Output.concat(args.processed_bucket.arn, "/*"),
                    ],
                },
                {
                    # S3 answers a missing key or version with 404 only to callers that may list
                    # the bucket, else 403 (https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetObject.html):
                    # a cache miss (HEAD of a missing render) and a deleted source (410) rely on it.
                    "sid": "FindRendersAndSources",
                    "actions": ["s3:ListBucket"],
                    "resources": [args.processed_bucket.arn, args.upload_bucket.arn],
                },
                {
                    "sid": "WriteRenders",
                    "actions": ["s3:PutObject"],
                    "resources": [Output.concat(args.processed_bucket.arn, f"/{RENDER_PREFIX}*")],
                },
                s3_key_grant(
                    "DecryptSources",
                    ["kms:Decrypt"],
                    args.upload_bucket.key_arn,
                    args.upload_bucket.arn,
                    self._region,
                ),
                dynamodb_key_grant(
                    "DecryptTable", ["kms:Decrypt"], args.table.key_arn, args.table.name, self._region
                ),
                s3_key_grant(
                    "EncryptAndReadRenders",
                    ["kms:Decrypt", "kms:GenerateDataKey"],
                    args.processed_bucket.key_arn,
                    args.processed_bucket.arn,
                    self._region,
                ),
            ],
        )

        # PUT /uploads/{key+}'s checks before S3 stores anything (api_key mode: a method has one
        # authorization type, so with AWS_IAM there is no room for a Lambda authorizer)
        self.upload_authorizer: aws.apigateway.Authorizer | None = None
        self.authorizer_function: aws.lambda_.Function | None = None
        if args.api_auth == ApiAuth.API_KEY:
            self._upload_authorizer()

        # ---- resources (paths) -----------------------------------------------------------
        uploads = self._resource("uploads", root_id, "uploads")
        upload_key = self._resource("upload-key", uploads.id, "{key+}")
        images = self._resource("images", root_id, "images")
        image = self._resource("image", images.id, "{image_id}")
        render = self._resource("render", image.id, "render")
        variants = self._resource("variants", image.id, "variants")
        variant = self._resource("variant", variants.id, "{variant}")

        # ---- routes ----------------------------------------------------------------------
        self._s3_upload(upload_key)
        self._lambda_route("create-upload", uploads, "POST", "/uploads", self.api_function, {})
        self._dynamodb_route(
            "list-images",
            images,
            "/images",
            "Query",
            # source_key or status: the templates check them and answer 400 with what to fix
            {f"method.request.querystring.{q}": False for q in ("source_key", "status", "limit", "cursor")},
            Output.from_input(args.table.name).apply(query_request_template),
            QUERY_RESPONSE_TEMPLATE,
        )
        self._dynamodb_route(
            "get-image",
            image,
            "/images/{image_id}",
            "GetItem",
            {"method.request.path.image_id": True},
            Output.from_input(args.table.name).apply(get_item_request_template),
            GET_ITEM_RESPONSE_TEMPLATE,
        )
        self._lambda_route(
            "render",
            render,
            "GET",
            "/images/{image_id}/render",
            self.render_function,
            {
                "method.request.path.image_id": True,
                **{f"method.request.querystring.{q}": False for q in ("w", "h", "fit", "format", "quality")},
            },
        )
        self._lambda_route(
            "get-variant",
            variant,
            "GET",
            "/images/{image_id}/variants/{variant}",
            self.api_function,
            {"method.request.path.image_id": True, "method.request.path.variant": True},
        )
        for res, label, methods in (
            (uploads, "uploads", "POST,OPTIONS"),
            (upload_key, "upload-key", "PUT,OPTIONS"),
            (images, "images", "GET,OPTIONS"),
            (image, "image", "GET,OPTIONS"),
            (render, "render", "GET,OPTIONS"),
            (variant, "variant", "GET,OPTIONS"),
        ):
            self._preflight(label, res, methods)
        # The page authenticates with the API key; a browser cannot SigV4-sign (iam): no page then.
        self._serves_page = args.page is not None and args.api_auth == ApiAuth.API_KEY
        if args.page is not None and self._serves_page:
            self._page_routes(root_id, args.page)
        self._gateway_responses()

        # ---- deployment + stage ------------------------------------------------------------
        self.deployment = aws.apigateway.Deployment(
            f"{name}-deployment",
            rest_api=api_id,
            description=f"imgpipe {stack} API",
            triggers={"redeployment": self._snapshot.trigger()},
            # a new deployment must exist before the stage moves to it and the old one goes
            opts=ResourceOptions(parent=self, depends_on=self._deps, delete_before_replace=False),
        )

        self.access_logs = aws.cloudwatch.LogGroup(
            f"{name}-access-logs",
            name=Output.concat("/aws/apigateway/", self._physical, "-access"),
            retention_in_days=args.log_retention_days,
            opts=child,
        )
        stage_deps: list[pulumi.Resource] = []
        if args.manage_account_logging_role:
            stage_deps.append(self._account_logging_role())
        self.stage = aws.apigateway.Stage(
            f"{name}-stage",
            rest_api=api_id,
            deployment=self.deployment.id,
            stage_name=args.stage_name,
            access_log_settings={"destination_arn": self.access_logs.arn, "format": ACCESS_LOG_FORMAT},
            opts=ResourceOptions(parent=self, depends_on=stage_deps),
        )
        aws.apigateway.MethodSettings(
            f"{name}-method-settings",
            rest_api=api_id,
            stage_name=self.stage.stage_name,
            method_path="*/*",
            settings={
                "metrics_enabled": True,
                "throttling_rate_limit": args.throttle_rate_limit,
                "throttling_burst_limit": args.throttle_burst_limit,
            },
            opts=child,
        )

        # ---- key + usage plan ----------------------------------------------------------------
        plan_args: dict[str, Any] = {
            "api_stages": [{"api_id": api_id, "stage": self.stage.stage_name}],
            "throttle_settings": {
                "rate_limit": args.throttle_rate_limit,
                "burst_limit": args.throttle_burst_limit,
            },
        }
        if args.api_auth == ApiAuth.API_KEY:
            plan_args["quota_settings"] = {"limit": args.quota_per_day, "period": "DAY"}
        self.usage_plan = aws.apigateway.UsagePlan(
            f"{name}-usage-plan",
            name=self._physical,
            description=f"imgpipe {stack}: throttling and daily quota per API key",
            opts=child,
            **plan_args,
        )
        self.key: aws.apigateway.ApiKey | None = None
        if args.api_auth == ApiAuth.API_KEY:
            self.key = aws.apigateway.ApiKey(f"{name}-key", name=self._physical, enabled=True, opts=child)
            aws.apigateway.UsagePlanKey(
                f"{name}-usage-plan-key",
                key_id=self.key.id,
                key_type="API_KEY",
                usage_plan_id=self.usage_plan.id,
                opts=child,
            )
            self.api_key = Output.secret(self.key.value)
        else:
            self.api_key = Output.secret("")

        self.stage_name = args.stage_name
        self.rest_api_id = api_id
        self.rest_api_name = self.rest_api.name
        self.api_url = Output.all(self.stage.invoke_url, api_id, self._region).apply(self._invoke_url)
        self.gallery_url = (
            self.api_url.apply(lambda url: f"{url}/gallery") if self._serves_page else Output.from_input("")
        )
        self.api_function_name = self.api_function.name
        self.render_function_name = self.render_function.name
        self.register_outputs(
            {
                "api_url": self.api_url,
                "gallery_url": self.gallery_url,
                "api_key": self.api_key,
                "rest_api_id": self.rest_api_id,
                "rest_api_name": self.rest_api_name,
                "stage_name": self.stage_name,
                "api_function_name": self.api_function_name,
                "render_function_name": self.render_function_name,
            }
        )

    # --- helpers ------------------------------------------------------------------------------

    def _invoke_url(self, values: list[Any]) -> str:
        invoke_url, api_id, region = values
        if invoke_url:
            return str(invoke_url).rstrip("/")
        # previews (and mocks) do not know the URL yet: the documented shape of it
        return f"https://{api_id}.execute-api.{region}.amazonaws.com/{self._args.stage_name}"

    def _resource(self, label: str, parent_id: Input[str], part: str) -> aws.apigateway.Resource:
        res = aws.apigateway.Resource(
            f"{self._name}-{label}",
            rest_api=self.rest_api.id,
            parent_id=parent_id,
            path_part=part,
            opts=ResourceOptions(parent=self),
        )
        self._deps.append(res)
        return res

    def _auth(self) -> dict[str, Any]:
        if self._args.api_auth == ApiAuth.IAM:
            return {"authorization": "AWS_IAM", "api_key_required": False}
        return {"authorization": "NONE", "api_key_required": True}

    def _method(
        self,
        label: str,
        resource: aws.apigateway.Resource,
        http_method: str,
        path: str,
        params: dict[str, bool],
        auth: dict[str, Any] | None = None,
    ) -> aws.apigateway.Method:
        auth = auth or self._auth()
        method = aws.apigateway.Method(
            f"{self._name}-{label}-method",
            rest_api=self.rest_api.id,
            resource_id=resource.id,
            http_method=http_method,
            request_parameters=params or None,
            request_validator_id=self.validator.id if params else None,
            opts=ResourceOptions(parent=self),
            **auth,
        )
        self._deps.append(method)
        return method

    def _responses(
        self,
        label: str,
        resource: aws.apigateway.Resource,
        method: aws.apigateway.Method,
        integration: aws.apigateway.Integration,
        path: str,
        responses: list[dict[str, Any]],
    ) -> None:
        """Method + integration responses; every one carries the CORS origin header."""
        for resp in responses:
            status = resp["status"]
            headers = {"Access-Control-Allow-Origin": f"'{self._origin}'"}
            headers.update(resp.get("headers", {}))
            self._response(
                label,
                resource,
                method,
                integration,
                status,
                headers,
                resp.get("templates"),
                resp.get("pattern"),
            )

    def _response(
        self,
        label: str,
        resource: aws.apigateway.Resource,
        method: aws.apigateway.Method,
        integration: aws.apigateway.Integration,
        status: str,
        headers: dict[str, str],
        templates: dict[str, str] | None,
        pattern: str | None = None,
    ) -> None:
        """One status of a method: its declared headers and how the integration's answer maps to it."""
        method_response = aws.apigateway.MethodResponse(
            f"{self._name}-{label}-{status}",
            rest_api=self.rest_api.id,
            resource_id=resource.id,
            http_method=method.http_method,
            status_code=status,
            response_parameters={f"method.response.header.{h}": False for h in headers},
            opts=ResourceOptions(parent=self),
        )
        integration_response = aws.apigateway.IntegrationResponse(
            f"{self._name}-{label}-{status}-integration",
            rest_api=self.rest_api.id,
            resource_id=resource.id,
            http_method=method.http_method,
            status_code=status,
            selection_pattern=pattern,
            response_parameters={f"method.response.header.{h}": v for h, v in headers.items()},
            response_templates=templates,
            opts=ResourceOptions(parent=self, depends_on=[method_response, integration]),
        )
        self._deps.extend([method_response, integration_response])

    def _integration(
        self, label: str, resource: aws.apigateway.Resource, method: aws.apigateway.Method, **kwargs: Any
    ) -> aws.apigateway.Integration:
        """The integration of ``method`` (``kwargs``: type, uri, templates, …)."""
        integration = aws.apigateway.Integration(
            f"{self._name}-{label}-integration",
            rest_api=self.rest_api.id,
            resource_id=resource.id,
            http_method=method.http_method,
            opts=ResourceOptions(parent=self),
            **kwargs,
        )
        self._deps.append(integration)
        return integration

    def _s3_upload(self, resource: aws.apigateway.Resource) -> None:
        args = self._args
        params = {"method.request.path.key": True, "method.request.header.Content-Type": True}
        auth = None
        if self.upload_authorizer is not None:
            auth = {
                "authorization": "CUSTOM",
                "authorizer_id": self.upload_authorizer.id,
                "api_key_required": True,
            }
        method = self._method("upload", resource, "PUT", "/uploads/{key+}", params, auth)
        integration = self._integration(
            "upload",
            resource,
            method,
            type="AWS",
            integration_http_method="PUT",
            uri=Output.concat(
                "arn:aws:apigateway:",
                self._region,
                ":s3:path/",
                args.upload_bucket.name,
                "/{key}",
            ),
            credentials=self.integration_role.arn,
            request_parameters={
                "integration.request.path.key": "method.request.path.key",
                "integration.request.header.Content-Type": "method.request.header.Content-Type",
                # S3 conditional write: refuse (412) to replace an existing key, never overwrite
                # silently (https://docs.aws.amazon.com/AmazonS3/latest/userguide/conditional-writes.html)
                "integration.request.header.If-None-Match": "'*'",
            },
            # no templates, no conversion: the image bytes reach S3 exactly as sent
            passthrough_behavior="WHEN_NO_TEMPLATES",
            timeout_milliseconds=29000,
        )
        self._responses(
            "upload",
            resource,
            method,
            integration,
            "/uploads/{key+}",
            [
                {
                    "status": "200",
                    "headers": {
                        "ETag": "integration.response.header.ETag",
                        "x-amz-version-id": "integration.response.header.x-amz-version-id",
                    },
                    "templates": {"application/json": UPLOAD_RESPONSE_TEMPLATE},
                },
                {
                    # 412: If-None-Match failed (the key exists); 409: a concurrent conditional write
                    "status": "409",
                    "pattern": "409|412",
                    "templates": {"application/json": ERROR_TEMPLATE % EXISTS_MESSAGE},
                },
                {
                    "status": "400",
                    "pattern": "40[0-8]|41[013-9]|4[2-9]\\d",
                    "templates": {"application/json": ERROR_TEMPLATE % "the upload was rejected by S3"},
                },
                {
                    "status": "502",
                    "pattern": "5\\d\\d",
                    "templates": {"application/json": ERROR_TEMPLATE % "S3 failed to store the upload"},
                },
            ],
        )

    def _dynamodb_route(
        self,
        label: str,
        resource: aws.apigateway.Resource,
        path: str,
        action: str,
        params: dict[str, bool],
        request_template: Output[str],
        response_template: str,
    ) -> None:
        method = self._method(label, resource, "GET", path, params)
        integration = self._integration(
            label,
            resource,
            method,
            type="AWS",
            integration_http_method="POST",
            uri=Output.concat("arn:aws:apigateway:", self._region, ":dynamodb:action/", action),
            credentials=self.integration_role.arn,
            request_templates={"application/json": request_template},
            passthrough_behavior="NEVER",
        )
        self._responses(
            label,
            resource,
            method,
            integration,
            path,
            [
                {"status": "200", "templates": {"application/json": response_template}},
                {
                    "status": "500",
                    "pattern": "4\\d\\d|5\\d\\d",
                    "templates": {"application/json": ERROR_TEMPLATE % "metadata lookup failed"},
                },
            ],
        )

    def _lambda_route(
        self,
        label: str,
        resource: aws.apigateway.Resource,
        http_method: str,
        path: str,
        function: aws.lambda_.Function,
        params: dict[str, bool],
    ) -> None:
        method = self._method(label, resource, http_method, path, params)
        self._integration(
            label,
            resource,
            method,
            type="AWS_PROXY",
            integration_http_method="POST",
            uri=function.invoke_arn,
            timeout_milliseconds=29000,
        )
        # The permission names the exact method and path, not the whole API.
        permission = aws.lambda_.Permission(
            f"{self._name}-{label}-invoke",
            action="lambda:InvokeFunction",
            function=function.name,
            principal="apigateway.amazonaws.com",
            source_arn=Output.concat(
                self.rest_api.execution_arn, "/*/", http_method, re.sub(r"\{[^}]+\}", "*", path)
            ),
            opts=ResourceOptions(parent=self),
        )
        self._deps.append(permission)

    def _preflight(self, label: str, resource: aws.apigateway.Resource, methods: str) -> None:
        origins = self._args.cors_origins
        method = aws.apigateway.Method(
            f"{self._name}-{label}-options",
            rest_api=self.rest_api.id,
            resource_id=resource.id,
            http_method="OPTIONS",
            authorization="NONE",  # browsers send preflights without credentials
            api_key_required=False,
            opts=ResourceOptions(parent=self),
        )
        self._deps.append(method)
        integration = self._integration(
            f"{label}-options",
            resource,
            method,
            type="MOCK",
            request_templates={"application/json": '{"statusCode": 200}'},
            passthrough_behavior="WHEN_NO_TEMPLATES",
        )
        headers = {
            "Access-Control-Allow-Origin": f"'{self._origin}'",
            "Access-Control-Allow-Methods": f"'{methods}'",
            "Access-Control-Allow-Headers": f"'{CORS_ALLOW_HEADERS}'",
            "Access-Control-Max-Age": "'600'",
        }
        if "*" not in origins:
            headers["Vary"] = "'Origin'"
        template = preflight_template(origins)
        templates = {"application/json": template} if template else None
        self._response(f"{label}-options", resource, method, integration, "200", headers, templates)

    def _page_routes(self, root_id: Input[str], page: StaticPage) -> None:
        """Keyless ``GET /gallery`` and ``GET /gallery/{file}``: S3 reads of the page's own objects
        through a role that can read exactly those objects (a browser navigating to a page cannot
        send ``x-api-key``; the page asks for the key before any API call)."""
        name = self._name
        role = self._service_role(
            "page", "API Gateway: read the gallery page's own objects (keyless page routes)"
        )
        policy = aws.iam.RolePolicy(
            f"{name}-page-policy",
            role=role.id,
            policy=_policy(
                [
                    {
                        "sid": "ReadPageFiles",
                        "actions": ["s3:GetObject"],
                        "resources": list(page.object_arns),
                    },
                    s3_key_grant(
                        "DecryptPageFiles", ["kms:Decrypt"], page.key_arn, page.bucket_arn, self._region
                    ),
                ]
            ),
            opts=ResourceOptions(parent=self),
        )
        gallery = self._resource("gallery", root_id, "gallery")
        asset = self._resource("gallery-file", gallery.id, "{file}")
        for res, label, operation, path, key, file_param in (
            (gallery, "gallery-page", "GetGalleryPage", "/gallery", f"{page.prefix}{page.index}", False),
            (asset, "gallery-file", "GetGalleryAsset", "/gallery/{file}", f"{page.prefix}{{file}}", True),
        ):
            params = {"method.request.path.file": True} if file_param else {}
            method = aws.apigateway.Method(
                f"{name}-{label}-method",
                rest_api=self.rest_api.id,
                resource_id=res.id,
                http_method="GET",
                authorization="NONE",
                api_key_required=False,
                operation_name=operation,  # policy/rules.py: PUBLIC_PAGE_OPERATIONS
                request_parameters=params or None,
                request_validator_id=self.validator.id if params else None,
                opts=ResourceOptions(parent=self),
            )
            self._deps.extend([method, policy])
            integration = self._integration(
                label,
                res,
                method,
                type="AWS",
                integration_http_method="GET",
                uri=Output.concat(
                    "arn:aws:apigateway:", self._region, ":s3:path/", page.bucket_name, "/", key
                ),
                credentials=role.arn,
                request_parameters={"integration.request.path.file": "method.request.path.file"}
                if file_param
                else None,
                passthrough_behavior="WHEN_NO_MATCH",
                timeout_milliseconds=10000,
            )
            self._responses(
                label,
                res,
                method,
                integration,
                path,
                [
                    {
                        "status": "200",
                        "headers": {
                            "Content-Type": "integration.response.header.Content-Type",
                            "Cache-Control": "integration.response.header.Cache-Control",
                            "X-Content-Type-Options": "'nosniff'",
                        },
                    },
                    {
                        "status": "404",
                        "pattern": "4\\d\\d",
                        "templates": {
                            "application/json": ERROR_TEMPLATE % "no such file in the gallery page"
                        },
                    },
                    {
                        "status": "502",
                        "pattern": "5\\d\\d",
                        "templates": {
                            "application/json": ERROR_TEMPLATE % "S3 failed to serve the gallery page"
                        },
                    },
                ],
            )

    def _gateway_responses(self) -> None:
        """JSON + CORS for every answer API Gateway makes itself (4XX/5XX families, 413, 415)."""
        headers = {
            "gatewayresponse.header.Access-Control-Allow-Origin": f"'{self._origin}'",
            "gatewayresponse.header.Access-Control-Allow-Headers": f"'{CORS_ALLOW_HEADERS}'",
        }
        generic = '{"message": $context.error.messageString}'
        for response_type, status, template in (
            ("DEFAULT_4XX", None, generic),
            ("DEFAULT_5XX", None, generic),
            (
                "REQUEST_TOO_LARGE",
                "413",
                '{"message": "request body over API Gateway\'s 10 MB limit:'
                ' POST /uploads returns a presigned URL for large files"}',
            ),
            (
                "UNSUPPORTED_MEDIA_TYPE",
                "415",
                '{"message": "unsupported Content-Type: send application/json (or image/* to PUT /uploads)"}',
            ),
            (
                "BAD_REQUEST_PARAMETERS",
                "400",
                generic,
            ),
            *self._authorizer_responses(),
        ):
            response = aws.apigateway.Response(
                f"{self._name}-{response_type.lower().replace('_', '-')}",
                rest_api_id=self.rest_api.id,
                response_type=response_type,
                status_code=status,
                response_parameters=headers,
                response_templates={"application/json": template},
                opts=ResourceOptions(parent=self),
            )
            self._deps.append(response)

    def _upload_authorizer(self) -> None:
        """The REQUEST authorizer of ``PUT /uploads/{key+}`` (``function.authorizer``).

        Not cached (TTL 0): the decision depends on the key in the path, and a path parameter
        cannot be an identity source, so a cached answer would be reused for other keys. The
        identity source is ``Content-Type``: should API Gateway require it, a request without one
        gets 401 ``UNAUTHORIZED``, which the gateway responses turn into the same 415 the
        authorizer's own ``Unauthorized`` gets.
        """
        self.authorizer_function = self._function(
            "authorizer",
            memory_mb=AUTHORIZER_MEMORY_MB,
            timeout=AUTHORIZER_TIMEOUT_S,
            statements=[],  # pure checks: it calls nothing (its role only writes its own logs)
            handler=AUTHORIZER_HANDLER,
            environment={},
        )
        self.upload_authorizer = aws.apigateway.Authorizer(
            f"{self._name}-upload-authorizer",
            rest_api=self.rest_api.id,
            name="upload-rules",
            type="REQUEST",
            authorizer_uri=self.authorizer_function.invoke_arn,
            identity_source="method.request.header.Content-Type",
            authorizer_result_ttl_in_seconds=0,
            opts=ResourceOptions(parent=self),
        )
        # API Gateway may invoke it for this authorizer only
        permission = aws.lambda_.Permission(
            f"{self._name}-authorizer-invoke",
            action="lambda:InvokeFunction",
            function=self.authorizer_function.name,
            principal="apigateway.amazonaws.com",
            source_arn=Output.concat(self.rest_api.execution_arn, "/authorizers/", self.upload_authorizer.id),
            opts=ResourceOptions(parent=self),
        )
        self._deps.extend([self.upload_authorizer, permission])

    def _authorizer_responses(self) -> list[tuple[str, str | None, str]]:
        """What the upload authorizer's two refusals look like (only when it is deployed).

        An authorizer can Allow, Deny or fail: a Deny is API Gateway's ``ACCESS_DENIED`` response,
        here 400 with the authorizer's own message (its context is in ``$context.authorizer``,
        https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-mapping-template-reference.html);
        failing with ``Unauthorized`` is ``UNAUTHORIZED``, here 415 (that failure carries no context,
        so the message is fixed). Nothing else in this API answers either: API keys have their
        own ``INVALID_API_KEY``, and there is no resource policy.
        """
        if self.upload_authorizer is None:
            return []
        types = ", ".join(UPLOAD_CONTENT_TYPES)
        return [
            ("ACCESS_DENIED", "400", '{"message": $context.authorizer.messageJson}'),
            (
                "UNAUTHORIZED",
                "415",
                f'{{"message": "unsupported Content-Type: PUT /uploads takes {types}"}}',
            ),
        ]

    def _upload_writes(self, sid: str) -> list[Any]:
        """Writing objects into the upload bucket: PutObject on its objects and the data key of
        its CMK (through S3, for this bucket only)."""
        bucket = self._args.upload_bucket
        return [
            {"sid": sid, "actions": ["s3:PutObject"], "resources": [Output.concat(bucket.arn, "/*")]},
            s3_key_grant("EncryptUploads", ["kms:GenerateDataKey"], bucket.key_arn, bucket.arn, self._region),
        ]

    def _service_role(self, label: str, description: str) -> aws.iam.Role:
        """``<name>-<label>-role``, assumable only by API Gateway acting for this API of this
        account (``aws:SourceAccount`` + ``aws:SourceArn``: confused-deputy protection)."""
        return aws.iam.Role(
            f"{self._name}-{label}-role",
            description=description,
            assume_role_policy=assume_role_policy(
                "apigateway.amazonaws.com",
                source_account=self._account,
                source_arn=Output.concat(
                    "arn:aws:execute-api:", self._region, ":", self._account, ":", self.rest_api.id, "/*"
                ),
            ),
            opts=ResourceOptions(parent=self),
        )

    def _integration_role(self) -> aws.iam.Role:
        args = self._args
        role = self._service_role(
            "integration", "API Gateway service integrations of imgpipe's API (S3 uploads, DynamoDB reads)"
        )
        aws.iam.RolePolicy(
            f"{self._name}-integration-policy",
            role=role.id,
            policy=_policy(
                [
                    *self._upload_writes("PutUploads"),
                    {
                        "sid": "ReadMetadata",
                        "actions": ["dynamodb:GetItem", "dynamodb:Query"],
                        "resources": [
                            args.table.arn,
                            Output.concat(args.table.arn, "/index/", SOURCE_KEY_INDEX),
                            Output.concat(args.table.arn, "/index/", STATUS_INDEX),
                        ],
                    },
                    dynamodb_key_grant(
                        "DecryptMetadata", ["kms:Decrypt"], args.table.key_arn, args.table.name, self._region
                    ),
                ]
            ),
            opts=ResourceOptions(parent=self),
        )
        return role

    def _account_logging_role(self) -> aws.apigateway.Account:
        """The region's API Gateway CloudWatch Logs role and the account setting pointing at it.

        API Gateway checks the role when the setting is written and expects AWS's managed policy
        AmazonAPIGatewayPushToCloudWatchLogs (it adds logs:DescribeLogGroups, GetLogEvents and
        FilterLogEvents on ``*`` to the writes): https://docs.aws.amazon.com/apigateway/latest/developerguide/set-up-logging.html.
        The setting is one per account and region, shared by every API there: role, attachment
        and setting are kept when this stack is destroyed (destroying the Account resource does not
        reset the setting, so deleting the role would silently break other stacks' access logs:
        https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-apigateway-account.html).
        """
        kept = ResourceOptions(parent=self, retain_on_delete=True)
        role = aws.iam.Role(
            f"{self._name}-cloudwatch-role",
            description="API Gateway writes access logs to CloudWatch Logs (region-wide; kept on destroy)",
            # No aws:SourceArn/SourceAccount here, unlike the integration role: this role is the
            # account-and-region-wide logging setting, validated and used by API Gateway for every
            # API, not for one execute-api ARN; AWS documents its trust policy without conditions
            # (https://docs.aws.amazon.com/apigateway/latest/developerguide/set-up-logging.html), and a
            # condition the service does not send would make the Account update fail.
            assume_role_policy=assume_role_policy("apigateway.amazonaws.com"),
            opts=kept,
        )
        attachment = aws.iam.RolePolicyAttachment(
            f"{self._name}-cloudwatch-push-logs",
            role=role.name,
            policy_arn=PUSH_TO_CLOUDWATCH_LOGS,
            opts=kept,
        )
        return aws.apigateway.Account(
            f"{self._name}-account",
            cloudwatch_role_arn=role.arn,
            # the role must have its permissions when API Gateway checks it
            opts=ResourceOptions(parent=self, depends_on=[attachment], retain_on_delete=True),
        )

    def _function(
        self,
        purpose: str,
        memory_mb: int,
        timeout: int,
        statements: list[dict[str, Any]],
        handler: str = HANDLER,
        environment: dict[str, Input[str]] | None = None,
        reserved_concurrency: int | None = None,
    ) -> aws.lambda_.Function:
        args = self._args
        if environment is None:
            environment = {
                **data_environment(
                    args.upload_bucket,
                    args.processed_bucket,
                    args.table,
                    args.variants,
                    args.max_pixels,
                    args.max_animation_pixels,
                ),
                env.MAX_UPLOAD_MB: str(args.max_upload_mb),
                env.PRESIGN_EXPIRES_SECONDS: str(args.presign_expires_seconds),
                env.CORS_ORIGINS: ",".join(args.cors_origins),
            }
        recipe = LambdaFunction(
            self,
            f"{self._name}-{purpose}",
            LambdaFunctionArgs(
                base=self._base,
                purpose=purpose,
                suffix=self.suffix.hex,
                description=f"imgpipe API: {purpose}",
                role_description=f"imgpipe API {purpose} Lambda",
                handler=handler,
                code=args.code,
                layers=[args.layer_arn],
                architecture=args.architecture,
                memory_mb=memory_mb,
                timeout_seconds=timeout,
                log_retention_days=args.log_retention_days,
                environment=environment,
                statements=statements,
                reserved_concurrency=reserved_concurrency,
            ),
        )
        return recipe.function
