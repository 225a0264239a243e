"""The soak's counting, percentiles, DLQ parsing and duplicate detection: pure functions, offline."""

from __future__ import annotations

import io
import json

import pytest
from PIL import Image

from verify.check import image_id
from verify.soak import (
    SoakImage,
    SoakResult,
    SoakUpload,
    bad_count,
    dlq_sources,
    duplicate_reason,
    generate_images,
    injected_during,
    latency_ms,
    parse_iso,
    percentile,
    tally,
    variant_objects,
)

T0 = 1_800_000_000.0  # 2027-01-15T08:00:00Z


def _upload(
    i: int, status: str | None = None, bad: str | None = None, processed_at: str | None = None, **kw: object
) -> SoakUpload:
    image = SoakImage(i, f"{i:04d}.jpg", b"x", "image/jpeg", bad)
    key = f"soak/run/{i:04d}.jpg"
    upload = SoakUpload(image, "up", key, T0, version_id=f"v{i}", image_id=image_id("up", key, f"v{i}"))
    if status:
        upload.item = {"image_id": upload.image_id, "status": status, "processed_at": processed_at}
    for name, value in kw.items():
        setattr(upload, name, value)
    return upload


@pytest.mark.parametrize(
    ("values", "p", "expected"),
    [
        ([5.0], 50, 5.0),
        ([5.0], 95, 5.0),
        ([1.0, 2.0], 50, 1.0),
        ([3.0, 1.0, 2.0, 4.0], 50, 2.0),
        (list(range(1, 101)), 95, 95),
        (list(range(1, 101)), 50, 50),
        (list(range(1, 21)), 95, 19),  # ceil(0.95 * 20) = 19th value
        (list(range(100, 0, -1)), 100, 100),
        ([], 50, None),
    ],
)
def test_percentile_is_nearest_rank(values: list[float], p: float, expected: float | None) -> None:
    assert percentile(values, p) == expected


@pytest.mark.parametrize("p", [0, -1, 101])
def test_percentile_rejects_out_of_range(p: float) -> None:
    with pytest.raises(ValueError, match="percentile must be in"):
        percentile([1.0], p)


def test_parse_iso_accepts_z_offsets_and_naive_utc() -> None:
    assert parse_iso("2027-01-15T08:00:00Z") == T0
    assert parse_iso("2027-01-15T08:00:00.250000+00:00") == T0 + 0.25
    assert parse_iso("2027-01-15T09:00:00+01:00") == T0
    assert parse_iso("2027-01-15T08:00:00") == T0  # the contract's strings are UTC
    assert parse_iso("yesterday") is None
    assert parse_iso(None) is None
    assert parse_iso(1234) is None


def test_latency_uses_processed_at_else_the_poll_sighting() -> None:
    assert latency_ms(_upload(1, "done", processed_at="2027-01-15T08:00:01.500Z")) == 1500
    sighted = _upload(2, "done", processed_at=None, seen_terminal=T0 + 2)
    assert latency_ms(sighted) == 2000
    # A processed_at far before the upload is a clock that disagrees: trust the poll instead.
    skewed = _upload(3, "done", processed_at="2027-01-15T07:00:00Z", seen_terminal=T0 + 0.75)
    assert latency_ms(skewed) == 750
    assert latency_ms(_upload(4)) is None


def test_dlq_sources_reads_async_dlq_bodies_and_destination_wrappers() -> None:
    event = {
        "Records": [
            {
                "eventSource": "aws:s3",
                "s3": {
                    "bucket": {"name": "up"},
                    "object": {"key": "soak/run/my+photo%2B1.jpg", "versionId": "abc"},
                },
            }
        ]
    }
    assert dlq_sources(json.dumps(event)) == [("up", "soak/run/my photo+1.jpg", "abc")]
    wrapped = {"requestContext": {"condition": "RetriesExhausted"}, "requestPayload": event}
    assert dlq_sources(json.dumps(wrapped)) == [("up", "soak/run/my photo+1.jpg", "abc")]
    unversioned = {"Records": [{"s3": {"bucket": {"name": "up"}, "object": {"key": "a.png"}}}]}
    assert dlq_sources(json.dumps(unversioned)) == [("up", "a.png", None)]
    for junk in ("not json", "[]", '{"Records": "x"}', '{"Records": [{"s3": 1}]}', ""):
        assert dlq_sources(junk) == []


def test_variant_objects_match_the_contract_key_shape_only_for_their_source() -> None:
    ident = "0123456789abcdef"
    keys = [
        f"soak/run/0001_compressed_{ident}.jpg",
        f"soak/run/0001_small_thumb_{ident}.jpg",  # a configured name with an underscore
        f"soak/run/00011_compressed_{ident}.jpg",  # another source's stem that starts alike
        f"soak/other/0001_compressed_{ident}.jpg",  # same stem, other directory
        "soak/run/0001_compressed_nothex.jpg",
    ]
    assert variant_objects("soak/run/0001.jpg", keys) == [
        (keys[0], "compressed", ident),
        (keys[1], "small_thumb", ident),
    ]
    assert variant_objects("top.png", [f"top_png_{ident}.png", f"x/top_png_{ident}.png"]) == [
        (f"top_png_{ident}.png", "png", ident)
    ]


def test_duplicate_reasons() -> None:
    upload = _upload(1, "done")
    one_set = [f"soak/run/0001_{v}_{upload.image_id}.jpg" for v in ("compressed", "low", "thumbnail")]
    assert duplicate_reason(upload, 1, one_set) is None
    assert duplicate_reason(upload, 0, []) is None
    assert "2 metadata items" in (duplicate_reason(upload, 2, one_set) or "")
    other = [*one_set, "soak/run/0001_compressed_ffffffffffffffff.jpg"]
    assert "2 image ids" in (duplicate_reason(upload, 1, other) or "")
    doubled = [*one_set, f"soak/run/0001_low_{upload.image_id}.jpeg"]
    assert "two objects for variant(s) low" in (duplicate_reason(upload, 1, doubled) or "")


def test_tally_counts_every_outcome_once() -> None:
    uploads = [
        _upload(0, "done", processed_at="2027-01-15T08:00:01Z"),
        _upload(1, "done", processed_at="2027-01-15T08:00:03Z"),
        _upload(2, "failed", bad="zero-byte"),
        _upload(3, "processing", in_dlq=True),
        _upload(4, None, in_dlq=True),
        _upload(5, "processing"),  # lost: stuck, not in the DLQ
        _upload(6, None),  # lost: never seen at all
        _upload(7, "failed"),  # a good image recorded failed
        _upload(8, "done", bad="truncated", processed_at="2027-01-15T08:00:02Z"),  # a bad image done
        _upload(9, error="AccessDenied"),  # never sent
        _upload(10, "done", processed_at="2027-01-15T08:00:04Z"),
    ]
    dup = uploads[10]
    processed = [f"{dup.key[:-4]}_low_{dup.image_id}.jpg", f"{dup.key[:-4]}_low_0000000000000000.jpg"]
    result = tally(uploads, {"soak/run/0001.jpg": 2}, processed, variant_rewrites=3)
    assert (result.sent, result.upload_errors) == (10, 1)
    assert (result.done, result.failed, result.failed_expected, result.dlq, result.lost) == (4, 2, 1, 2, 2)
    assert result.done + result.failed + result.dlq + result.lost == result.sent
    assert result.duplicates == 2  # two items for 0001, two variant sets for 0010
    assert result.misclassified == 2
    assert result.variant_rewrites == 3
    assert sorted(result.latencies_ms) == [1000, 2000, 3000, 4000]
    assert not result.ok
    details = "\n".join(result.details)
    assert "LOST soak/run/0005.jpg" in details and "LOST soak/run/0006.jpg" in details
    assert "MISCLASSIFIED soak/run/0007.jpg" in details and "MISCLASSIFIED soak/run/0008.jpg" in details
    assert "upload error soak/run/0009.jpg: AccessDenied" in details


def test_clean_run_is_ok_and_line_has_the_exact_shape() -> None:
    uploads = [_upload(i, "done", processed_at=f"2027-01-15T08:00:0{i}.000Z") for i in range(1, 5)]
    uploads.append(_upload(5, "failed", bad="not-an-image"))
    result = tally(uploads, {u.key: 1 for u in uploads}, [])
    assert result.ok
    assert result.line() == ("soak: sent=5 done=4 failed=1 dlq=0 lost=0 duplicates=0 p50_ms=2000 p95_ms=4000")
    table = result.table()
    assert "lost" in table and "p95" in table and "must be 0" in table


def test_line_without_latencies_says_na() -> None:
    assert SoakResult(sent=1, lost=1).line() == (
        "soak: sent=1 done=0 failed=0 dlq=0 lost=1 duplicates=0 p50_ms=n/a p95_ms=n/a"
    )
    assert not SoakResult(lost=1).ok and not SoakResult(duplicates=1).ok


@pytest.mark.parametrize(("count", "bad"), [(1, 0), (2, 1), (20, 1), (79, 1), (80, 2), (200, 5)])
def test_bad_count(count: int, bad: int) -> None:
    assert bad_count(count) == bad


def test_generated_images_are_distinct_decodable_and_the_bad_ones_are_broken() -> None:
    images = generate_images(40)
    assert len(images) == 40 and len({i.filename for i in images}) == 40
    assert len({i.data for i in images}) == 40  # distinct bytes: distinct uploads, no dedup anywhere
    bad = [i for i in images if i.bad]
    assert len(bad) == bad_count(40) == 1
    for image in images:
        if image.bad:
            assert image.bad in image.filename
            continue
        with Image.open(io.BytesIO(image.data)) as img:
            img.load()
            assert img.format == ("PNG" if image.filename.endswith(".png") else "JPEG")
            assert image.content_type == f"image/{img.format.lower()}"
            assert img.width >= 160 and img.height >= 120
    kinds = {i.bad for i in generate_images(200) if i.bad}
    assert kinds == {"zero-byte", "not-an-image", "truncated"}
    assert generate_images(5) == generate_images(5)  # deterministic
    with pytest.raises(ValueError, match="count must be at least 1"):
        generate_images(0)


def test_truncated_input_really_fails_to_decode() -> None:
    truncated = next(i for i in generate_images(200) if i.bad == "truncated")
    with pytest.raises(OSError), Image.open(io.BytesIO(truncated.data)) as img:
        img.load()


def test_injected_during_is_the_counter_delta() -> None:
    before = {"s3_put": 4, "ddb_put": 1}
    after = {"s3_put": 10, "ddb_put": 1, "ddb_get": 2}
    assert injected_during(before, after) == {"s3_put": 6, "ddb_get": 2}
    assert injected_during({}, {}) == {}


def test_table_lists_injected_faults_when_the_stack_had_some() -> None:
    result = SoakResult(sent=1, done=1, faults="s3_put:0.05", faults_injected={"s3_put": 3})
    assert "faults injected" in result.table() and "s3_put=3 (s3_put:0.05)" in result.table()
    assert "faults injected" not in SoakResult().table()
