"""The upload rules, in one place: which object keys and which content types an upload may use.

Both upload routes enforce exactly these rules: ``PUT /uploads/{key+}`` through the upload
authorizer (``function.authorizer``, before API Gateway calls S3) and ``POST /uploads`` in
``function.api`` (before anything is presigned). A refused upload stores nothing.

Key rule (:func:`check_key`), each failure naming the rule it broke:

* not empty, at most 1,024 bytes of UTF-8 (S3's limit; moto stores longer keys, AWS refuses them
  with an opaque error);
* no leading ``/`` and no empty, ``.`` or ``..`` segment (``a//b``, ``a/./b``, ``../x``): such
  keys look like paths that resolve elsewhere in every tool that treats keys as paths;
* no control characters (C0 U+0000–U+001F, DEL U+007F, C1 U+0080–U+009F) and no bidirectional
  formatting characters (U+061C, U+200E, U+200F, U+202A–U+202E, U+2066–U+2069: the "Trojan
  Source" set, CVE-2021-42574), which make a key display differently from what is stored.

Pure Python: imported by the API Lambdas, the authorizer and the tests.
"""

from __future__ import annotations

import unicodedata

from function.events import MAX_KEY_BYTES  # S3's limit on a key's UTF-8 length

# What the pipeline accepts (it validates the content too; this only refuses non-images early).
UPLOAD_CONTENT_TYPES: dict[str, str] = {
    "image/jpeg": ".jpg",
    "image/png": ".png",
    "image/webp": ".webp",
    "image/gif": ".gif",
    "image/bmp": ".bmp",
    # iPhone photos; browsers and iOS send either name for the same HEIF container
    "image/heic": ".heic",
    "image/heif": ".heif",
    "image/avif": ".avif",
}

BIDI_CONTROLS = frozenset({0x061C, 0x200E, 0x200F, *range(0x202A, 0x202F), *range(0x2066, 0x206A)})


class KeyRuleError(ValueError):
    """A key breaks the upload key rule; ``rule`` names which one, ``message`` says how to fix it."""

    def __init__(self, rule: str, message: str) -> None:
        super().__init__(message)
        self.rule = rule
        self.message = message


def _describe(ch: str) -> str:
    name = unicodedata.name(ch, "") or {0x7F: "DELETE"}.get(ord(ch), "control character")
    return f"U+{ord(ch):04X} ({name})"


def check_key(key: object) -> str:
    """``key`` if it follows the upload key rule, else :class:`KeyRuleError` naming the rule."""
    if not isinstance(key, str) or not key:
        raise KeyRuleError("empty", "the key is empty: name the object, e.g. holiday/beach.jpg")
    try:
        size = len(key.encode("utf-8"))
    except UnicodeEncodeError:
        raise KeyRuleError(
            "not_utf8", "the key is not valid Unicode text (it has a lone surrogate): send UTF-8"
        ) from None
    if size > MAX_KEY_BYTES:
        raise KeyRuleError(
            "too_long",
            f"the key is {size} bytes of UTF-8, over S3's limit of {MAX_KEY_BYTES}: shorten it",
        )
    for i, ch in enumerate(key):
        code = ord(ch)
        if code < 0x20 or 0x7F <= code <= 0x9F:
            raise KeyRuleError(
                "control_character",
                f"the key contains the control character {_describe(ch)} at position {i}: remove it",
            )
        if code in BIDI_CONTROLS:
            raise KeyRuleError(
                "bidi_character",
                f"the key contains the bidirectional formatting character {_describe(ch)} at position "
                f"{i}: remove it (it makes the name display differently from what is stored)",
            )
    if key.startswith("/"):
        raise KeyRuleError(
            "leading_slash", "the key starts with '/': drop the leading slash (e.g. photos/a.jpg)"
        )
    for segment in key.split("/"):
        if segment == "":
            raise KeyRuleError(
                "empty_segment",
                "the key has an empty segment ('//' or a trailing '/'): every part between '/' "
                "must be a name",
            )
        if segment in (".", ".."):
            raise KeyRuleError(
                "dot_segment",
                f"the key has a {segment!r} segment: '.' and '..' are not allowed as key parts",
            )
    return key


def media_type(content_type: object) -> str:
    """``image/JPEG; q=1`` → ``image/jpeg`` ('' for anything that is not a string)."""
    if not isinstance(content_type, str):
        return ""
    return content_type.split(";", 1)[0].strip().lower()


def check_content_type(content_type: object) -> str:
    """The media type if it is one uploads accept, else ValueError saying which are."""
    mt = media_type(content_type)
    if mt not in UPLOAD_CONTENT_TYPES:
        got = repr(content_type) if content_type else "none"
        raise ValueError(f"unsupported Content-Type {got}: uploads take {', '.join(UPLOAD_CONTENT_TYPES)}")
    return mt
