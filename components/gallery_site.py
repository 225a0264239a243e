"""GallerySite: the gallery page's static files (``web/``) as objects on a private bucket prefix.

The API serves them with a keyless ``GET /gallery`` and ``GET /gallery/{file}`` (S3 integrations,
see ``UploadApi``), so the page comes from the API's own origin: every API call it makes is
same-origin (no CORS, no second host), and nothing else is deployed for it (no CloudFront, no
website bucket, the bucket stays private). The integration role reads exactly these objects.
"""

from dataclasses import dataclass
from pathlib import Path

import pulumi
import pulumi_aws as aws
from pulumi import Input, Output, ResourceOptions

from components.package import component_type, from_inputs, package_options

CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".png": "image/png",
    ".svg": "image/svg+xml",
}
INDEX = "index.html"
PREFIX = "_site/gallery/"
"""Variant keys always end in ``_<variant>_<image id>.<ext>``, so none can be one of these."""


@dataclass(frozen=True)
class StaticPage:
    """What the API needs to serve the page: where its objects are and which ones they are."""

    bucket_name: Input[str]
    """The private bucket holding the page's objects."""
    bucket_arn: Input[str]
    """Its ARN (KMS grants through S3 name it in the encryption context)."""
    key_arn: Input[str]
    """The bucket's KMS key (the objects are encrypted with it: reading them needs ``kms:Decrypt``)."""
    prefix: str
    """Key prefix of the page's objects (``_site/gallery/``)."""
    index: str
    """The file ``GET /gallery`` answers (under ``prefix``)."""
    object_arns: list[Input[str]]
    """Exactly the objects the page routes may read."""


@dataclass
class GallerySiteArgs:
    """Where the page's files go and where they come from."""

    bucket_name: Input[str]
    """The private bucket that holds the files (the processed bucket)."""
    bucket_arn: Input[str]
    key_arn: Input[str]
    """The bucket's KMS key."""
    source_dir: str = "web"
    """Directory of the static files, relative to the project directory (like ``./function``)."""
    prefix: str = PREFIX


def site_files(source_dir: Path) -> list[str]:
    """The files the site serves: every file of a known type, ``index.html`` required."""
    names = sorted(p.name for p in source_dir.iterdir() if p.is_file() and p.suffix in CONTENT_TYPES)
    if INDEX not in names:
        raise ValueError(f"the gallery needs {source_dir / INDEX}")
    return names


class GallerySite(pulumi.ComponentResource):
    """The page's files as S3 objects under ``prefix`` (``no-cache``: a new deploy shows at once).

    Attributes: ``bucket_name``, ``prefix``, ``files`` (names under the prefix, ``index.html``
    first), ``object_arns`` (exactly the objects the API may read for the page) and ``page``
    (all of that for ``UploadApiArgs.page``).
    """

    bucket_name: Output[str]
    object_arns: list[Output[str]]

    def __init__(self, name: str, args: GallerySiteArgs, opts: ResourceOptions | None = None) -> None:
        args = from_inputs(GallerySiteArgs, args)  # a dict when constructed through the package
        super().__init__(
            component_type("GallerySite"), name, None, package_options("imgpipe:web:GallerySite", opts)
        )
        if not args.prefix.endswith("/") or args.prefix.startswith("/"):
            raise ValueError(f"prefix must look like 'dir/' (no leading '/'), got {args.prefix!r}")
        source = Path(args.source_dir)
        project_dir = Path(__file__).resolve().parent.parent
        folder = source if source.is_absolute() else project_dir / source
        names = site_files(folder)
        # Relative to the project directory when run from it (like ./function: the checkout's
        # location stays out of the stack's state), else absolute (a program elsewhere).
        base = source if Path.cwd().resolve() == project_dir else folder
        self.files = [INDEX, *(n for n in names if n != INDEX)]
        self.prefix = args.prefix
        self.objects = [
            aws.s3.BucketObjectv2(
                f"{name}-{file_name.replace('.', '-')}",
                bucket=args.bucket_name,
                key=f"{args.prefix}{file_name}",
                source=pulumi.FileAsset(str(base / file_name)),
                content_type=CONTENT_TYPES[Path(file_name).suffix],
                cache_control="no-cache",
                opts=ResourceOptions(parent=self),
            )
            for file_name in self.files
        ]
        self.bucket_name = Output.from_input(args.bucket_name)
        self.object_arns = [
            Output.concat(args.bucket_arn, "/", args.prefix, file_name) for file_name in self.files
        ]
        self.page = StaticPage(
            bucket_name=self.bucket_name,
            bucket_arn=args.bucket_arn,
            key_arn=args.key_arn,
            prefix=self.prefix,
            index=INDEX,
            object_arns=list(self.object_arns),
        )
        self.register_outputs({"bucket_name": self.bucket_name, "prefix": self.prefix, "files": self.files})
