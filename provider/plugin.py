"""What the imgpipe package serves: its name, version and components.

``provider/__main__.py`` hosts these with Pulumi's ``component_provider_host``, which infers the
package schema from the components' typed Args (docstrings become descriptions); ``make schema``
writes that schema to ``provider/schema.json`` (``python -m provider.schema``).
"""

import pulumi

from components.image_processor import ImageProcessor
from components.metadata_table import MetadataTable
from components.pipeline import ImagePipeline
from components.secure_bucket import SecureBucket
from components.upload_api import UploadApi

NAME = "imgpipe"
"""The package name: the first part of every type token (``imgpipe:index:<Name>``)."""

VERSION = "0.1.0"
"""The package version the schema and GetPluginInfo report (the generated SDKs take it). A
release is tagged ``v<VERSION>`` after ``make schema`` (docs/package.md)."""

COMPONENTS: list[type[pulumi.ComponentResource]] = [
    ImagePipeline,
    SecureBucket,
    MetadataTable,
    ImageProcessor,
    UploadApi,
]
"""The components consumers can create, each as ``imgpipe:index:<class name>``: the whole stack
(ImagePipeline), and the building blocks it is made of for those who compose their own."""
