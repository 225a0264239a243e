"""The upload key rule and accepted types (``function.uploads``), shared by both upload routes."""

from __future__ import annotations

import pytest

from function.uploads import (
    MAX_KEY_BYTES,
    UPLOAD_CONTENT_TYPES,
    KeyRuleError,
    check_content_type,
    check_key,
)


@pytest.mark.parametrize(
    "key",
    [
        "photo.jpg",
        "holiday/beach.jpg",
        "a b+c%20d.png",
        "Ünïcödé/日本語.webp",
        ".hidden.jpg",  # a dot *in* a name is fine; only '.' / '..' as a whole segment is refused
        "a/..b/c..jpg",
        "x" * MAX_KEY_BYTES,
        "é" * (MAX_KEY_BYTES // 2),  # 2 bytes each: exactly at the limit
        "emoji-😀.png",
    ],
)
def test_good_keys_pass_unchanged(key: str) -> None:
    assert check_key(key) == key


@pytest.mark.parametrize(
    ("key", "rule", "says"),
    [
        ("", "empty", "the key is empty"),
        (None, "empty", "the key is empty"),
        ("x" * (MAX_KEY_BYTES + 1), "too_long", "1025 bytes of UTF-8, over S3's limit of 1024"),
        ("é" * 513, "too_long", "1026 bytes"),
        ("/x.jpg", "leading_slash", "starts with '/'"),
        ("//x.jpg", "leading_slash", "starts with '/'"),
        ("../../x.jpg", "dot_segment", "'..' segment"),
        ("a/../x.jpg", "dot_segment", "'..' segment"),
        ("a/./x.jpg", "dot_segment", "'.' segment"),
        ("..", "dot_segment", "'..' segment"),
        ("a//x.jpg", "empty_segment", "empty segment"),
        ("dir/", "empty_segment", "empty segment"),
        ("a\x00b.jpg", "control_character", "U+0000"),
        ("a\nb.jpg", "control_character", "U+000A"),
        ("a\x1fb.jpg", "control_character", "U+001F"),
        ("a\x7fb.jpg", "control_character", "U+007F (DELETE)"),
        ("a\x85b.jpg", "control_character", "U+0085"),
        ("a\x9fb.jpg", "control_character", "U+009F"),
        ("invoice\u202egpj.exe", "bidi_character", "U+202E (RIGHT-TO-LEFT OVERRIDE) at position 7"),
        ("a\u202ab.jpg", "bidi_character", "U+202A"),
        ("a\u2066b\u2069.jpg", "bidi_character", "U+2066 (LEFT-TO-RIGHT ISOLATE)"),
        ("a\u200fb.jpg", "bidi_character", "U+200F (RIGHT-TO-LEFT MARK)"),
        ("a\u061cb.jpg", "bidi_character", "U+061C (ARABIC LETTER MARK)"),
        ("a\ud800b.jpg", "not_utf8", "lone surrogate"),
    ],
)
def test_bad_keys_name_the_rule_they_break(key: object, rule: str, says: str) -> None:
    with pytest.raises(KeyRuleError) as caught:
        check_key(key)
    assert caught.value.rule == rule
    assert says in caught.value.message
    assert str(caught.value) == caught.value.message


@pytest.mark.parametrize("value", ["image/jpeg", "IMAGE/PNG", "image/webp; charset=binary", " image/gif "])
def test_image_types_are_accepted(value: str) -> None:
    assert check_content_type(value) in UPLOAD_CONTENT_TYPES


@pytest.mark.parametrize("value", ["text/html", "application/octet-stream", "image/svg+xml", "", None])
def test_other_types_are_refused_with_the_list(value: object) -> None:
    with pytest.raises(ValueError, match="uploads take image/jpeg, image/png"):
        check_content_type(value)
