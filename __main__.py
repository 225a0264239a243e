"""imgpipe: a serverless image pipeline on AWS.

Reads the stack config once, composes the components (``components/pipeline.py``, the same
wiring the package's ImagePipeline component uses), exports the output contract.
"""

import pulumi
import pulumi_aws as aws

from components import config as stack_config
from components.pipeline import build_pipeline

cfg = stack_config.load()
parts = build_pipeline(cfg, cfg.require_layer_zip())

pulumi.export("upload_bucket", parts.uploads.bucket_name)
pulumi.export("processed_bucket", parts.processed.bucket_name)
pulumi.export("metadata_table", parts.metadata.table_name)
pulumi.export("function_name", parts.processor.function_name)
pulumi.export("api_url", parts.api.api_url)
pulumi.export("gallery_url", parts.api.gallery_url)
pulumi.export("dlq_url", parts.processor.dlq_url)
pulumi.export("dashboard_url", parts.monitoring.dashboard_url)
pulumi.export("region", aws.get_region_output().region)
pulumi.export("api_key", pulumi.Output.secret(parts.api.api_key))
