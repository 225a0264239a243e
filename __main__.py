"""imgpipe: a serverless image pipeline on AWS.

Reads the stack config once, composes the components, exports the output contract. Nothing
else lives here: each resource family is a component in ``components/``.
"""

from urllib.parse import urlsplit

import pulumi
import pulumi_aws as aws

from components import config as stack_config
from components.gallery_site import GallerySite, GallerySiteArgs
from components.image_processor import ImageProcessor, ImageProcessorArgs, function_code
from components.inputs import DataStore
from components.metadata_table import MetadataTable, MetadataTableArgs
from components.monitoring import Monitoring, MonitoringArgs
from components.secure_bucket import SecureBucket, SecureBucketArgs, browser_origins
from components.upload_api import UploadApi, UploadApiArgs
from function.api_store import RENDER_EXPIRY_DAYS, RENDER_PREFIX

cfg = stack_config.load()
layer_zip = cfg.require_layer_zip()
code = function_code()

uploads = SecureBucket(
    "uploads", SecureBucketArgs(purpose="uploads", force_destroy=cfg.force_destroy, protect=cfg.protect)
)
processed = SecureBucket(
    "processed",
    SecureBucketArgs(
        purpose="processed",
        force_destroy=cfg.force_destroy,
        protect=cfg.protect,
        # the render cache is re-creatable: renditions expire (and free the per-image cap)
        expire_prefixes={RENDER_PREFIX: RENDER_EXPIRY_DAYS},
    ),
)
metadata = MetadataTable("metadata", MetadataTableArgs(protect=cfg.protect))

# Both functions (image processor, API) reach the same three data stores, each with its key.
upload_bucket = DataStore(name=uploads.bucket_name, arn=uploads.bucket_arn, key_arn=uploads.key_arn)
processed_bucket = DataStore(name=processed.bucket_name, arn=processed.bucket_arn, key_arn=processed.key_arn)
table = DataStore(name=metadata.table_name, arn=metadata.table_arn, key_arn=metadata.key_arn)

processor = ImageProcessor(
    "process",
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
)

# The gallery page's static files (web/), served by the API itself from a private prefix.
site = GallerySite(
    "gallery",
    GallerySiteArgs(
        bucket_name=processed.bucket_name, bucket_arn=processed.bucket_arn, key_arn=processed.key_arn
    ),
)

api = UploadApi(
    "api",
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
    "ops",
    MonitoringArgs(
        function_name=processor.function_name,
        dlq_name=processor.dlq_name,
        api_name=api.rest_api_name,
        api_stage=api.stage_name,
        alarm_email=cfg.alarm_email,
    ),
)

pulumi.export("upload_bucket", uploads.bucket_name)
pulumi.export("processed_bucket", processed.bucket_name)
pulumi.export("metadata_table", metadata.table_name)
pulumi.export("function_name", processor.function_name)
pulumi.export("api_url", api.api_url)
pulumi.export("gallery_url", api.gallery_url)
pulumi.export("dlq_url", processor.dlq_url)
pulumi.export("dashboard_url", monitoring.dashboard_url)
pulumi.export("region", aws.get_region_output().region)
pulumi.export("api_key", pulumi.Output.secret(api.api_key))
