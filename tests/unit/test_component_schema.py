"""The components' Args are what Pulumi's component schema analyzer can read (the base of
publishing them as a multi-language package): real types, not strings; choices as enums; the
variants as an object type; a description for every input and output."""

from pulumi.provider.experimental.analyzer import Analyzer

from components.image_processor import ImageProcessor
from components.metadata_table import MetadataTable
from components.monitoring import Monitoring
from components.secure_bucket import SecureBucket
from components.upload_api import UploadApi

COMPONENTS = [SecureBucket, MetadataTable, ImageProcessor, UploadApi, Monitoring]


def test_every_component_input_and_output_is_typed_and_described() -> None:
    result = Analyzer("imgpipe").analyze(COMPONENTS)
    components = result["component_definitions"]
    assert sorted(components) == sorted(c.__name__ for c in COMPONENTS)
    for name, component in components.items():
        props = {**component.inputs, **component.outputs}
        undescribed = [key for key, prop in props.items() if not prop.description]
        assert undescribed == [], name

    types = result["type_definitions"]
    enums = {name: [e.value for e in t.enum] for name, t in types.items() if t.enum}
    assert enums == {
        "Architecture": ["arm64", "x86_64"],
        "ApiAuth": ["api_key", "iam"],
        "ImageFormat": ["jpeg", "png", "webp", "avif", "gif"],
        "Fit": ["inside", "cover"],
    }
    assert sorted(types["DataStore"].properties) == ["arn", "keyArn", "name"]
    variant = types["Variant"].properties
    assert variant["format"].ref == "#/types/imgpipe:index:ImageFormat"
    assert variant["fit"].ref == "#/types/imgpipe:index:Fit"
    assert variant["maxWidth"].optional and not variant["name"].optional
    for args in ("ImageProcessor", "UploadApi"):
        inputs = components[args].inputs
        assert (
            inputs["variants"].items is not None
            and inputs["variants"].items.ref == "#/types/imgpipe:index:Variant"
        )
        assert inputs["architecture"].ref == "#/types/imgpipe:index:Architecture"
        assert inputs["uploadBucket"].ref == "#/types/imgpipe:index:DataStore"
    assert components["UploadApi"].inputs["apiAuth"].ref == "#/types/imgpipe:index:ApiAuth"
