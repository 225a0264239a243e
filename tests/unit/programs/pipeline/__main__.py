"""A consumer program: one ImagePipeline, its inputs given as the package provider hands them
over (a dict, JSON in IMGPIPE_TEST_PIPELINE_INPUTS), its outputs exported."""

import json
import os

import pulumi

from components.pipeline import ImagePipeline

pipeline = ImagePipeline("imgpipe", json.loads(os.environ.get("IMGPIPE_TEST_PIPELINE_INPUTS", "{}")))
for name in ("upload_bucket", "processed_bucket", "metadata_table", "function_name", "api_url", "dlq_url"):
    pulumi.export(name, getattr(pipeline, name))
pulumi.export("api_key", pipeline.api_key)
