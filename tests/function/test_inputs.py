"""Issue 6's input table, through the real handler: good inputs → ``done``, bad → ``failed``.

The table lives in :mod:`tests.function.samples` (also rendered for docs/security.md).
"""

from __future__ import annotations

import io
from urllib.parse import unquote_plus

import pytest
from PIL import Image

from function.events import image_id
from tests.function.conftest import PROCESSED
from tests.function.samples import INPUTS, InputCase, markdown


@pytest.mark.parametrize("case", INPUTS, ids=[c.id for c in INPUTS])
def test_input_outcome(aws, case: InputCase) -> None:
    event = aws.upload(case.key, case.make())
    obj = event["Records"][0]["s3"]["object"]
    iid = image_id(event["Records"][0]["s3"]["bucket"]["name"], unquote_plus(obj["key"]), obj["versionId"])

    result = aws.invoke(event)  # never raises for a bad image: no retry storm

    assert result["results"][0]["status"] == case.status
    item = aws.item(iid)
    assert item["status"] == case.status
    if case.status == "failed":
        assert case.error and case.error in item["error"], item["error"]
        assert "variants" not in item and aws.processed_keys() == []
        assert item["processed_at"] and item["duration_ms"] >= 0
        return
    assert "error" not in item
    assert (item["format"], (item["width"], item["height"])) == (case.format, case.size)
    assert item["animated"] is case.animated and (item["frames"] > 1) is case.animated
    assert len(item["variants"]) == 5 and len(aws.processed_keys()) == 5
    for entry in item["variants"].values():
        body = aws.s3.get_object(Bucket=PROCESSED, Key=entry["key"])["Body"].read()
        with Image.open(io.BytesIO(body)) as im:
            im.load()
            assert im.format.lower() == entry["format"]
            assert im.size == (entry["width"], entry["height"])
            if entry["format"] == "jpeg":
                assert im.mode in ("RGB", "L")


def test_table_covers_issue_6_inputs() -> None:
    ids = {c.id for c in INPUTS}
    wanted = {"zero-byte", "truncated", "wrong-extension", "non-image", "bomb", "too-many-pixels", "cmyk"}
    wanted |= {"16-bit", "palette-alpha", "animated-gif", "animated-webp", "grayscale", "progressive"}
    assert wanted | {"exif-rotated"} <= ids
    table = markdown()
    assert table.count("\n") == len(INPUTS) + 2 and "`failed`" in table and "`done`" in table


def test_docs_show_the_current_table() -> None:
    """docs/security.md carries the table as generated (regenerate: python -m tests.function.samples)."""
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[2] / "docs" / "security.md").read_text(encoding="utf-8")
    assert markdown() in doc
