"""The whole pipeline in one place: what ``__main__.py`` deploys and what the package's
``ImagePipeline`` component builds, from one validated :class:`~components.config.StackConfig`.

:func:`build_pipeline` wires the building blocks (two SecureBuckets, the MetadataTable, the
ImageProcessor, the gallery's files, the UploadApi, Monitoring) exactly once; the program calls it
at the top level (so a deployed stack's URNs stay what they were) and :class:`ImagePipeline`
calls it with itself as the parent and its name as the children's prefix.
"""

import dataclasses
import enum
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pulumi
from pulumi import Output, ResourceOptions

from components import config as stack_config
from components.config import PROJECT_ROOT, StackConfig
from components.gallery_site import GallerySite, GallerySiteArgs
from components.image_processor import ImageProcessor, ImageProcessorArgs, function_code
from components.inputs import ApiAuth, Architecture, DataStore
from components.metadata_table import MetadataTable, MetadataTableArgs
from components.monitoring import Monitoring, MonitoringArgs
from components.package import component_type, from_inputs
from components.secure_bucket import SecureBucket, SecureBucketArgs, browser_origins
from components.upload_api import UploadApi, UploadApiArgs
from function.api_store import RENDER_EXPIRY_DAYS, RENDER_PREFIX
from function.variants import Variant


@dataclass
class Pipeline:
    """The building blocks of one pipeline, for the outputs a caller exports."""

    uploads: SecureBucket
    processed: SecureBucket
    metadata: MetadataTable
    processor: ImageProcessor
    api: UploadApi
    monitoring: Monitoring

    def outputs(self) -> dict[str, Output[str]]:
        """The output contract: the stack's outputs and the ImagePipeline component's (api_key secret)."""
        return {
            "upload_bucket": self.uploads.bucket_name,
            "processed_bucket": self.processed.bucket_name,
            "metadata_table": self.metadata.table_name,
            "function_name": self.processor.function_name,
            "api_url": self.api.api_url,
            "gallery_url": self.api.gallery_url,
            "dlq_url": self.processor.dlq_url,
            "dashboard_url": self.monitoring.dashboard_url,
            "api_key": Output.secret(self.api.api_key),
        }


def build_pipeline(
    cfg: StackConfig,
    layer_zip: Path,
    prefix: str = "",
    opts: ResourceOptions | None = None,
    code_root: str = ".",
) -> Pipeline:
    """Every component of the pipeline, named ``<prefix><part>``, with ``opts`` (e.g. a parent).
    ``code_root`` holds ``function/``: the project directory for the program (a relative path keeps
    the checkout's location out of the state), the repository for the package's component."""
    code = function_code(code_root)

    uploads = SecureBucket(
        f"{prefix}uploads",
        SecureBucketArgs(purpose="uploads", force_destroy=cfg.force_destroy, protect=cfg.protect),
        opts,
    )
    processed = SecureBucket(
        f"{prefix}processed",
        SecureBucketArgs(
            purpose="processed",
            force_destroy=cfg.force_destroy,
            protect=cfg.protect,
            # the render cache is re-creatable: renditions expire (and free the per-image cap)
            expire_prefixes={RENDER_PREFIX: RENDER_EXPIRY_DAYS},
        ),
        opts,
    )
    metadata = MetadataTable(f"{prefix}metadata", MetadataTableArgs(protect=cfg.protect), opts)

    # Both functions (image processor, API) reach the same three data stores, each with its key.
    upload_bucket = DataStore(name=uploads.bucket_name, arn=uploads.bucket_arn, key_arn=uploads.key_arn)
    processed_bucket = DataStore(
        name=processed.bucket_name, arn=processed.bucket_arn, key_arn=processed.key_arn
    )
    table = DataStore(name=metadata.table_name, arn=metadata.table_arn, key_arn=metadata.key_arn)

    processor = ImageProcessor(
        f"{prefix}process",
        ImageProcessorArgs(
            upload_bucket=upload_bucket,
            processed_bucket=processed_bucket,
            table=table,
            code=code,
            layer_zip=str(layer_zip),
            architecture=cfg.architecture,
            memory_mb=cfg.memory_mb,
            timeout_seconds=cfg.timeout_seconds,
            log_retention_days=cfg.log_retention_days,
            variants=cfg.variants,
            max_pixels=cfg.max_pixels,
            max_animation_pixels=cfg.max_animation_pixels,
            max_source_bytes=cfg.max_upload_bytes,
            reserved_concurrency=cfg.reserved_concurrency,
        ),
        opts,
    )

    # The gallery page's static files (web/), served by the API itself from a private prefix.
    site = GallerySite(
        f"{prefix}gallery",
        GallerySiteArgs(
            bucket_name=processed.bucket_name, bucket_arn=processed.bucket_arn, key_arn=processed.key_arn
        ),
        opts,
    )

    api = UploadApi(
        f"{prefix}api",
        UploadApiArgs(
            upload_bucket=upload_bucket,
            processed_bucket=processed_bucket,
            table=table,
            code=code,
            layer_arn=processor.layer_arn,  # the same code and layer as the image function
            architecture=cfg.architecture,
            memory_mb=cfg.memory_mb,
            timeout_seconds=min(cfg.timeout_seconds, 29),  # API Gateway stops waiting after 29 s
            log_retention_days=cfg.log_retention_days,
            variants=cfg.variants,
            max_pixels=cfg.max_pixels,
            max_animation_pixels=cfg.max_animation_pixels,
            render_concurrency=cfg.render_concurrency,
            max_upload_mb=cfg.max_upload_mb,
            api_auth=cfg.api_auth,
            cors_origins=list(cfg.cors_origins),
            throttle_rate_limit=cfg.throttle_rate_limit,
            throttle_burst_limit=cfg.throttle_burst_limit,
            quota_per_day=cfg.quota_per_day,
            stage_name=cfg.stage_name,
            manage_account_logging_role=cfg.manage_api_gateway_account,
            page=site.page,
        ),
        opts,
    )

    # Browsers (the gallery page, served from the API's own origin) upload large files with presigned
    # PUTs and read variants and renditions through presigned GETs: both are cross-origin to S3.
    page_origin = api.api_url.apply(lambda url: f"{urlsplit(url).scheme}://{urlsplit(url).netloc}")
    uploads.allow_browsers(
        browser_origins(cfg.cors_origins, page_origin),
        methods=["PUT"],
        allowed_headers=["Content-Type", "If-None-Match"],
        expose_headers=["ETag", "x-amz-version-id"],
    )
    processed.allow_browsers(
        browser_origins(cfg.cors_origins, page_origin),
        methods=["GET", "HEAD"],
        expose_headers=["ETag", "Content-Length", "Content-Type"],
    )

    monitoring = Monitoring(
        f"{prefix}ops",
        MonitoringArgs(
            function_name=processor.function_name,
            dlq_name=processor.dlq_name,
            api_name=api.rest_api_name,
            api_stage=api.stage_name,
            alarm_email=cfg.alarm_email,
        ),
        opts,
    )

    return Pipeline(uploads, processed, metadata, processor, api, monitoring)


@dataclass
class ImagePipelineArgs:
    """Settings of one image pipeline; every one is optional and defaults as the stack config
    keys of the same name do (``Pulumi.yaml``). Values are checked as ``pulumi preview`` checks
    the stack config: a bad one fails with what is allowed."""

    variants: list[Variant] | None = None
    """Renditions of every upload (default: JPEG q85 ``compressed``, JPEG q60 ``low``, WebP q85
    ``webp``, lossless ``png`` and a 200x200 JPEG ``thumbnail``)."""
    architecture: Architecture | None = None
    """Lambda CPU architecture of the functions and the Pillow layer (default arm64)."""
    memory_mb: int | None = None
    """Memory of the image function, 128..10240 MB (default 1536)."""
    timeout_seconds: int | None = None
    """Timeout of the image function, 1..900 s (default 60)."""
    log_retention_days: int | None = None
    """CloudWatch Logs retention in days (default 14)."""
    max_pixels: int | None = None
    """Images with more pixels are refused before decoding (default 50,000,000)."""
    max_animation_pixels: int | None = None
    """Frames x pixels an animated variant keeps; longer animations are truncated (default 100,000,000)."""
    max_upload_mb: int | None = None
    """Larger uploads are refused without being downloaded (default 25)."""
    force_destroy: bool | None = None
    """Destroy empties the buckets first (default true)."""
    protect: bool | None = None
    """Protect and retain the buckets, table and keys (default false)."""
    api_auth: ApiAuth | None = None
    """How API callers authenticate: api_key (default) or iam."""
    alarm_email: str | None = None
    """Email address subscribed to the alarm topic (default none)."""
    cors_origins: list[str] | None = None
    """Origins allowed by CORS (default ["*"])."""
    throttle_rate_limit: float | None = None
    """Steady API requests per second per key (default 10)."""
    throttle_burst_limit: int | None = None
    """Burst API requests per key (default 20)."""
    quota_per_day: int | None = None
    """API requests per key per day (default 10,000)."""
    reserved_concurrency: int | None = None
    """Reserved concurrency of the image function (default unreserved)."""
    render_concurrency: int | None = None
    """Reserved concurrency of the render function (default unreserved)."""
    stage_name: str | None = None
    """API Gateway stage name, the last segment of the API URL (default dev)."""
    manage_api_gateway_account: bool | None = None
    """Whether this pipeline sets the region's API Gateway CloudWatch logging role (default true)."""
    layer_zip: str | None = None
    """Path of the Pillow layer zip (default: built on first use from the repository's hash-locked
    requirements, and checked against the digests it records)."""

    def to_config(self) -> StackConfig:
        """The validated settings (the same checks and messages as the stack config)."""
        values: dict[str, str] = {}
        for field_name, value in vars(self).items():
            if value is None or field_name == "layer_zip":
                continue
            key = _CONFIG_KEYS[field_name]
            if field_name == "variants":
                values[key] = json.dumps([_variant_json(v) for v in value])
            elif isinstance(value, list):
                values[key] = json.dumps(value)
            elif isinstance(value, bool):
                values[key] = "true" if value else "false"
            else:
                values[key] = str(value)
        return stack_config.load(_Values(values))


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


_CONFIG_KEYS = {name: _camel(name) for name in ImagePipelineArgs.__dataclass_fields__}


def _variant_json(variant: Variant) -> dict[str, Any]:
    raw = {k: v for k, v in dataclasses.asdict(variant).items() if v is not None}
    return {k: str(v) if isinstance(v, enum.Enum) else v for k, v in raw.items()}


class _Values:
    """The component's inputs in the shape ``components.config.load`` reads (``get(key)``)."""

    def __init__(self, values: dict[str, str]) -> None:
        self._values = values

    def get(self, key: str) -> str | None:
        return self._values.get(key)


class ImagePipeline(pulumi.ComponentResource):
    """The whole imgpipe stack as one component: upload and processed buckets, metadata table,
    image function, HTTP API with its gallery page, and monitoring."""

    upload_bucket: Output[str]
    """Bucket to upload images to."""
    processed_bucket: Output[str]
    """Bucket the variants and renditions are written to."""
    metadata_table: Output[str]
    """DynamoDB table with one item per image."""
    function_name: Output[str]
    """Name of the image function."""
    api_url: Output[str]
    """Invoke URL of the API stage (no trailing slash)."""
    gallery_url: Output[str]
    """The gallery web page."""
    dlq_url: Output[str]
    """Dead-letter queue of events that failed after retries."""
    dashboard_url: Output[str]
    """The CloudWatch dashboard."""
    api_key: Output[str]
    """The API key (secret; empty with api_auth iam)."""

    def __init__(self, name: str, args: ImagePipelineArgs, opts: ResourceOptions | None = None) -> None:
        args = from_inputs(ImagePipelineArgs, args or {})  # a dict when constructed through the package
        super().__init__(component_type("ImagePipeline"), name, None, opts)
        cfg = args.to_config()
        layer_zip = Path(args.layer_zip) if args.layer_zip else _layer_zip(cfg)
        parts = build_pipeline(
            cfg, layer_zip, prefix=f"{name}-", opts=ResourceOptions(parent=self), code_root=str(PROJECT_ROOT)
        )
        outputs = parts.outputs()
        for key, value in outputs.items():
            setattr(self, key, value)
        self.register_outputs(outputs)


def _layer_zip(cfg: StackConfig) -> Path:
    """The layer zip for ``cfg``'s architecture: the repository's build when present, else built
    now from the hash-locked wheels (no Docker), its sha256 checked against layer/digests.json."""
    path = cfg.layer_zip
    if path.is_file():
        return path
    from layer.build import build_layer

    return build_layer(str(cfg.architecture)).path
