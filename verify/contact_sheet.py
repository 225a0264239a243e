"""Contact sheet: each verified upload's original beside its variants, labelled (Pillow only).

One row per test photo; columns are the original then every variant, each tile labelled with
the variant name, format, dimensions and size in bytes. A checkerboard behind each tile shows
transparency, and tiles are never scaled up, so a small thumbnail looks small.
"""

from __future__ import annotations

import io
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont, ImageOps

from verify.report import UploadResult, VerifyReport

TILE_W, TILE_H = 250, 190
PAD = 18
LABEL_H = 62
TITLE_H = 74
BG = (246, 246, 243)
INK = (34, 34, 38)
MUTED = (110, 110, 118)
ACCENT = (23, 105, 170)
FAIL = (190, 30, 45)


def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    return ImageFont.load_default(size=size)


def _checkerboard(width: int, height: int, cell: int = 10) -> Image.Image:
    board = Image.new("RGB", (width, height), (255, 255, 255))
    draw = ImageDraw.Draw(board)
    for y in range(0, height, cell):
        for x in range((y // cell % 2) * cell, width, cell * 2):
            draw.rectangle((x, y, x + cell - 1, y + cell - 1), fill=(226, 226, 226))
    return board


def _human(n: int) -> str:
    return f"{n / 1024:,.1f} KB" if n < 1024 * 1024 else f"{n / 1024 / 1024:,.2f} MB"


def _tile(data: bytes) -> Image.Image:
    """The image (upright, EXIF applied) fitted into the tile box, never enlarged; an animation
    shows its first frame (the label says how many there are)."""
    if data[4:8] == b"ftyp":  # a HEIC original: Pillow reads it through pillow-heif's plugin
        from pillow_heif import register_heif_opener

        register_heif_opener()
    with Image.open(io.BytesIO(data)) as opened:
        img = ImageOps.exif_transpose(opened).convert("RGBA")
    img.thumbnail((TILE_W, TILE_H), Image.Resampling.LANCZOS)
    return img


def _draw_cell(
    sheet: Image.Image, x: int, y: int, data: bytes | None, lines: list[tuple[str, tuple]]
) -> None:
    draw = ImageDraw.Draw(sheet)
    draw.rectangle((x - 1, y - 1, x + TILE_W, y + TILE_H), outline=(215, 215, 210))
    if data is not None:
        img = _tile(data)
        ox = x + (TILE_W - img.width) // 2
        oy = y + (TILE_H - img.height) // 2
        sheet.paste(_checkerboard(img.width, img.height), (ox, oy))
        sheet.paste(img, (ox, oy), img)
    else:
        draw.text((x + TILE_W // 2, y + TILE_H // 2), "missing", fill=FAIL, font=_font(18), anchor="mm")
    ty = y + TILE_H + 8
    for i, (text, colour) in enumerate(lines):
        draw.text((x, ty), text, fill=colour, font=_font(16 if i == 0 else 14))
        ty += 20 if i == 0 else 18


def make_contact_sheet(report: VerifyReport, path: Path, via: str | None = None) -> Path:
    """Draw the sheet for the uploads made through ``via`` (default: the first path used)."""
    uploads = [u for u in report.uploads if u.item is not None]
    if not uploads:
        raise ValueError("no finished upload to draw: the verify run produced no processed image")
    via = via or uploads[0].via
    rows: list[UploadResult] = [u for u in uploads if u.via == via]
    names: list[str] = []
    for upload in rows:
        for name in (upload.item or {}).get("variants") or {}:
            if name not in names:
                names.append(name)
    columns = 1 + len(names)
    width = PAD + columns * (TILE_W + PAD)
    height = TITLE_H + len(rows) * (TILE_H + LABEL_H + PAD) + PAD
    sheet = Image.new("RGB", (width, height), BG)
    draw = ImageDraw.Draw(sheet)
    draw.text((PAD, 16), "imgpipe contact sheet", fill=INK, font=_font(26))
    status = "all checks passed" if report.ok else f"{len(report.failures)} check(s) failed"
    draw.text(
        (PAD, 48),
        f"original and {len(names)} variants per upload (via {via}) · {status} · {report.seconds:.1f} s",
        fill=ACCENT if report.ok else FAIL,
        font=_font(15),
    )
    for r, upload in enumerate(rows):
        y = TITLE_H + r * (TILE_H + LABEL_H + PAD)
        photo = upload.photo
        item = upload.item or {}
        size = f"{photo.width}x{photo.height}"
        note = (
            " (EXIF-rotated)"
            if photo.exif_rotated
            else " (alpha)"
            if photo.has_alpha
            else f" ({photo.frames} frames)"
            if photo.frames > 1
            else ""
        )
        _draw_cell(
            sheet,
            PAD,
            y,
            photo.data,
            [
                (f"original{note}", INK),
                (f"{photo.format.upper()} · {size}", MUTED),
                (f"{_human(len(photo.data))} · {photo.filename}", MUTED),
            ],
        )
        for c, name in enumerate(names, start=1):
            x = PAD + c * (TILE_W + PAD)
            result = upload.variants.get(name)
            recorded = (item.get("variants") or {}).get(name) or {}
            if result is None:
                _draw_cell(sheet, x, y, None, [(name, FAIL), ("not produced or unreadable", FAIL)])
                continue
            saving = 100 - round(100 * len(result.data) / max(1, len(photo.data)))
            _draw_cell(
                sheet,
                x,
                y,
                result.data,
                [
                    (name, INK),
                    (
                        f"{result.format.upper()} · {result.width}x{result.height}"
                        + (f" · {recorded['frames']} frames" if recorded.get("frames") else ""),
                        MUTED,
                    ),
                    (
                        f"{_human(len(result.data))} · "
                        + (f"{saving}% smaller" if saving >= 0 else f"{-saving}% larger"),
                        MUTED if recorded.get("bytes") == len(result.data) else FAIL,
                    ),
                ],
            )
    path.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(path, "PNG", optimize=True)
    return path
