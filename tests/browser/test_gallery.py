"""The gallery page, as a user drives it in Chromium, against the real program on a local stack:
uploads through both paths, live status, loaded variant images, the render playground, the
recent list, the API key's handling, keyboard use, 375 px, and a clean console."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import boto3
import pytest

from localaws import client_args
from verify.gallery import PUT_LIMIT, Gallery, big_bmp
from verify.photos import generate_photos

VARIANTS = ("thumbnail", "compressed", "low", "webp", "png")


def _jpeg(folder: Path) -> Path:
    photo = next(p for p in generate_photos() if p.format == "jpeg" and not p.exif_rotated)
    path = folder / "harbour.jpg"
    path.write_bytes(photo.data)
    return path


def _upload_object(outputs: dict[str, Any], name: str) -> dict[str, Any]:
    """The upload bucket's object whose key ends with ``name`` (the page adds a unique prefix)."""
    s3 = boto3.client("s3", **client_args(outputs["endpoint_url"], outputs["region"]))
    found = [
        o for o in s3.list_objects_v2(Bucket=outputs["upload_bucket"])["Contents"] if o["Key"].endswith(name)
    ]
    assert len(found) == 1, found
    return found[0]


def test_upload_watch_render_and_browse(
    gallery_stack: tuple[dict[str, Any], Path], page: Gallery, shots: Path, tmp_path: Path
) -> None:
    outputs, _ = gallery_stack
    url = outputs["gallery_url"]
    # locally the page opens authorised: the key rides in the fragment, never in the query
    assert "#key=" in url and "?" not in url and url.startswith(outputs["api_url"] + "/gallery")
    page.open(url)
    assert "#" not in page.driver.current_url, "the key must leave the address bar"

    jpeg = _jpeg(tmp_path)
    page.upload(jpeg)
    small = page.wait_done(jpeg.name)
    assert small["route"].endswith("PUT /uploads")
    assert small["images"] == small["loaded"] == len(VARIANTS)
    for name, alt in zip(VARIANTS, small["alts"], strict=True):
        assert alt.startswith(f"{name} variant of harbour.jpg: ") and "pixels" in alt, alt

    big = big_bmp(tmp_path / "big-landscape.bmp")
    page.upload(big)
    large = page.wait_done(big.name)
    assert "presigned S3 upload" in large["route"] and large["loaded"] == len(VARIANTS)
    assert _upload_object(outputs, big.name)["Size"] == big.stat().st_size > PUT_LIMIT

    first = page.render(jpeg.name, w="320", h="200", fit="cover", format="webp", quality="70")
    assert first["cache"] == "miss" and (first["width"], first["height"]) == (320, 200)
    assert first["url"].startswith(outputs["api_url"] + f"/images/{small['imageId']}/render?w=320&h=200")
    assert first["alt"].startswith("Rendition of harbour.jpg: WEBP, 320×200")
    again = page.render(jpeg.name, w="320", h="200", fit="cover", format="webp", quality="70")
    assert again["cache"] == "hit"

    errors = page.console_errors()
    page.screenshot(shots / "gallery.png")
    print(f"screenshot: {shots / 'gallery.png'}")
    assert errors == [], errors

    # a reload keeps the key (session storage) and lists the processed images newest first
    page.driver.get(outputs["api_url"] + "/gallery")
    recent = page.wait(
        "the recent list",
        lambda: page.js(
            "const n = [...document.querySelectorAll('#recent li')];"
            "return n.length >= 2 && n.every(li => li.querySelector('img').naturalWidth > 0)"
            " ? n.map(li => li.querySelector('.meta b').textContent) : null"
        ),
    )
    assert recent[:2] == [big.name, jpeg.name]
    assert page.js("return document.getElementById('key-panel').hidden") is True

    page.driver.set_window_size(375, 812)
    assert page.js("return document.documentElement.scrollWidth") <= 375, "horizontal scroll at 375 px"
    page.screenshot(shots / "gallery-375.png")
    assert page.console_errors() == []


def test_keyboard_drop_zone_and_dropped_files(
    gallery_stack: tuple[dict[str, Any], Path], page: Gallery
) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    outputs, _ = gallery_stack
    page.open(outputs["gallery_url"])
    zone = page.driver.find_element(By.ID, "drop-zone")
    assert zone.get_attribute("role") == "button" and zone.get_attribute("tabindex") == "0"
    assert zone.get_attribute("aria-describedby") == "drop-help"
    # the zone is reached with Tab and opens the file chooser with Enter or Space
    page.js(
        "window.picked = 0; document.getElementById('file-input')"
        ".addEventListener('click', e => { e.preventDefault(); window.picked++; })"
    )
    body = page.driver.find_element(By.TAG_NAME, "body")
    for _ in range(10):
        if page.js("return document.activeElement.id") == "drop-zone":
            break
        body.send_keys(Keys.TAB)
    assert page.js("return document.activeElement.id") == "drop-zone"
    zone.send_keys(Keys.ENTER)
    zone.send_keys(Keys.SPACE)
    assert page.js("return window.picked") == 2

    # a file dropped on the zone is uploaded like a chosen one
    page.js(
        """const canvas = Object.assign(document.createElement('canvas'), {width: 96, height: 64});
           const ctx = canvas.getContext('2d');
           ctx.fillStyle = '#2a6'; ctx.fillRect(0, 0, 96, 64);
           ctx.fillStyle = '#fc3'; ctx.fillRect(30, 10, 40, 40);
           canvas.toBlob(blob => {
             const data = new DataTransfer();
             data.items.add(new File([blob], 'dropped.png', {type: 'image/png'}));
             document.getElementById('drop-zone')
               .dispatchEvent(new DragEvent('drop', {dataTransfer: data, bubbles: true, cancelable: true}));
           }, 'image/png');"""
    )
    dropped = page.wait_done("dropped.png")
    assert dropped["loaded"] == len(VARIANTS)
    assert page.console_errors() == []


def test_without_a_key_the_page_asks_once(gallery_stack: tuple[dict[str, Any], Path], page: Gallery) -> None:
    """As on AWS (no key in the link): the page asks, refuses a wrong key, keeps a right one."""
    from selenium.webdriver.common.by import By

    outputs, _ = gallery_stack
    page.driver.get(outputs["api_url"] + "/gallery")
    panel = page.driver.find_element(By.ID, "key-panel")
    assert panel.is_displayed()
    field = page.driver.find_element(By.ID, "key-input")
    assert field.get_attribute("type") == "password"
    field.send_keys("not-the-key")
    page.driver.find_element(By.CSS_SELECTOR, "#key-form button").click()
    page.wait("the refusal", lambda: "refused" in page.driver.find_element(By.ID, "key-error").text)
    assert page.js("return sessionStorage.getItem('imgpipe.apiKey')") is None

    field.clear()
    field.send_keys(outputs["api_key"])
    page.driver.find_element(By.CSS_SELECTOR, "#key-form button").click()
    page.wait("the key to be accepted", lambda: not panel.is_displayed())
    assert page.js("return sessionStorage.getItem('imgpipe.apiKey')") == outputs["api_key"]
    page.driver.refresh()  # asked once: a reload in the same tab keeps it
    page.wait("the page to load", lambda: page.js("return document.readyState") == "complete")
    assert not page.driver.find_element(By.ID, "key-panel").is_displayed()


@pytest.mark.parametrize("path", ["/gallery", "/gallery/gallery.js", "/gallery/gallery.css"])
def test_page_is_served_without_a_key_and_typed(
    gallery_stack: tuple[dict[str, Any], Path], path: str
) -> None:
    import urllib.request

    outputs, _ = gallery_stack
    with urllib.request.urlopen(outputs["api_url"] + path) as resp:
        body = resp.read()
        ctype = resp.headers["Content-Type"]
    expected = {
        "/gallery": "text/html",
        "/gallery/gallery.js": "text/javascript",
        "/gallery/gallery.css": "text/css",
    }
    assert ctype.startswith(expected[path]), ctype
    assert (
        body
        == (
            Path(__file__).resolve().parents[2]
            / "web"
            / (path.split("/")[-1] if "." in path else "index.html")
        ).read_bytes()
    )
