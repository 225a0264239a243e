"""``python -m verify [--stack NAME] [--contact-sheet PATH] [--keep]``: exit 0 only if all pass."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from verify.check import run_verify
from verify.contact_sheet import make_contact_sheet
from verify.outputs import LOCAL_OUTPUTS, OutputsError, load_outputs
from verify.report import VerifyReport


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m verify",
        description="Upload generated photos to an imgpipe stack (by bucket name and through the API), "
        "wait for the variants and metadata, check them, print a pass/fail table.",
    )
    parser.add_argument(
        "--stack", help="a real Pulumi stack (reads `pulumi stack output`); default: the local stack"
    )
    parser.add_argument(
        "--outputs", type=Path, default=LOCAL_OUTPUTS, help="local outputs file (%(default)s)"
    )
    parser.add_argument(
        "--contact-sheet",
        type=Path,
        default=Path(".local/contact-sheet.png"),
        help="where to write the contact sheet PNG (%(default)s)",
    )
    parser.add_argument("--no-contact-sheet", action="store_true", help="do not draw the contact sheet")
    parser.add_argument(
        "--keep",
        action="store_true",
        help="keep the uploads, variants and metadata items (default: delete them afterwards)",
    )
    parser.add_argument("--via", default="s3,api", help="upload paths to test: s3, api or both (%(default)s)")
    parser.add_argument(
        "--timeout", type=float, default=60, help="seconds to wait for processing (%(default)s)"
    )
    args = parser.parse_args(argv)

    try:
        outputs = load_outputs(args.stack, args.outputs)
    except OutputsError as e:
        print(f"verify: {e}", file=sys.stderr)
        return 2
    target = f"stack {args.stack}" if args.stack else f"local stack at {outputs.get('endpoint_url')}"
    print(f"verify: {target}, region {outputs['region']}, uploading to {outputs['upload_bucket']}")

    sheet: list[Path] = []

    def draw(report: VerifyReport) -> None:
        if args.no_contact_sheet or not any(u.item for u in report.uploads):
            return
        try:
            sheet.append(make_contact_sheet(report, args.contact_sheet))
        except (OSError, ValueError) as e:
            print(f"verify: contact sheet not written: {e}", file=sys.stderr)

    via = tuple(v.strip() for v in args.via.split(",") if v.strip())
    try:
        report = run_verify(outputs, via=via, timeout=args.timeout, keep=args.keep, on_result=draw)
    except ValueError as e:
        print(f"verify: {e}", file=sys.stderr)
        return 2
    print(report.table())
    if sheet:
        print(f"contact sheet: {sheet[0].resolve()}")
    if args.keep:
        for upload in report.uploads:
            print(f"kept: s3://{upload.bucket}/{upload.key} -> image {upload.image_id}")
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
