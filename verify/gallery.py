"""The stack's gallery page in headless Chromium: what the browser tests and ``make demo`` drive.

``python -m verify.gallery [--outputs .local/outputs.json] [--screenshot .local/gallery.png]``
opens ``gallery_url`` of the running local stack, uploads generated photos through the page's
file input (one of them over 10 MB, so it takes the presigned path), waits until each is done
with its variant images loaded, renders one in the playground, checks the browser console
stayed clean and saves a screenshot. Exit 0 when all of that worked, 2 when no browser is
installed here (the reason is printed), 1 on a failure.

The browser is Debian's ``chromium`` + ``chromium-driver`` (``make setup`` installs them when it
runs as root with apt-get), driven by Selenium through ``/usr/bin/chromedriver``: nothing is
downloaded at run time.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from verify.outputs import LOCAL_OUTPUTS, OutputsError, load_local

CHROMEDRIVER = Path("/usr/bin/chromedriver")
CHROMIUM_BINARIES = (Path("/usr/bin/chromium"), Path("/usr/bin/chromium-browser"))
# Headless, no sandbox (root in CI), and nothing that phones home or updates itself.
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",  # small /dev/shm in containers
)
PUT_LIMIT = 10 * 1024 * 1024  # the page sends larger files through POST /uploads + presigned PUT
EXIT_NO_BROWSER = 2


def browser_missing() -> str | None:
    """Why no browser test can run here, or None when Selenium, Chromium and the driver exist."""
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed in this environment (make setup installs requirements-dev.txt)"
    if not any(p.exists() for p in CHROMIUM_BINARIES):
        return (
            "Chromium is not installed (/usr/bin/chromium): as root, `make setup` installs it with "
            "`apt-get install chromium chromium-driver`; elsewhere install those two packages"
        )
    if not CHROMEDRIVER.exists():
        return f"chromium-driver is not installed ({CHROMEDRIVER}): `apt-get install chromium-driver`"
    return None


@contextmanager
def chromium(width: int = 1280, height: int = 900) -> Iterator[Any]:
    """A headless Chromium session with a fresh profile, removed afterwards."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = Path(tempfile.mkdtemp(prefix="imgpipe-chromium-"))
    options = webdriver.ChromeOptions()
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile}")
    options.add_argument(f"--window-size={width},{height}")
    options.binary_location = str(next(p for p in CHROMIUM_BINARIES if p.exists()))
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def big_bmp(path: Path, width: int = 2048, height: int = 1800) -> Path:
    """An uncompressed BMP over 10 MB (2048 x 1800 x 3 bytes = 11 MB): a real photo-like image
    that must take the presigned path."""
    from verify.photos import _landscape

    _landscape(width, height, seed=7).save(path, "BMP")
    assert path.stat().st_size > PUT_LIMIT
    return path


def demo_files(folder: Path) -> list[Path]:
    """The demo's uploads as files (the file input takes paths): the generated JPEG and PNG."""
    from verify.photos import generate_photos

    files = []
    for photo in generate_photos():
        if photo.exif_rotated or photo.format not in ("jpeg", "png"):
            continue
        path = folder / photo.filename
        path.write_bytes(photo.data)
        files.append(path)
    return files


class GalleryError(AssertionError):
    """The page did not do what it should; the message says what was seen."""


@dataclass
class Gallery:
    """The gallery page as a user drives it (a page object over a Selenium driver)."""

    driver: Any
    timeout: float = 120.0

    def wait(self, what: str, condition: Callable[[], Any], timeout: float | None = None) -> Any:
        deadline = time.monotonic() + (timeout or self.timeout)
        while True:
            value = condition()
            if value:
                return value
            if time.monotonic() > deadline:
                raise GalleryError(f"timed out waiting for {what}; page says: {self.status_text()}")
            time.sleep(0.25)

    def js(self, script: str, *args: Any) -> Any:
        return self.driver.execute_script(script, *args)

    def status_text(self) -> str:
        return str(
            self.js(
                "return [...document.querySelectorAll('.card')].map(c => c.innerText.split('\\n')"
                ".slice(0, 4).join(' | ')).join(' || ')"
            )
        )

    def open(self, url: str) -> None:
        self.driver.get(url)
        self.wait(
            "the API key to be taken", lambda: self.js("return !!sessionStorage.getItem('imgpipe.apiKey')")
        )

    def upload(self, *paths: Path) -> None:
        from selenium.webdriver.common.by import By

        self.driver.find_element(By.ID, "file-input").send_keys("\n".join(str(p) for p in paths))

    def card(self, filename: str) -> dict[str, Any]:
        """State of the newest upload card for ``filename``."""
        return dict(
            self.js(
                """const card = [...document.querySelectorAll('#uploads .card')]
                     .find(c => c.querySelector('.name').textContent === arguments[0]);
                   if (!card) return {};
                   const imgs = [...card.querySelectorAll('.variants img')];
                   return {status: card.dataset.status || '', imageId: card.dataset.imageId || '',
                           route: card.querySelector('.card-head .muted').textContent,
                           detail: card.querySelector('p.muted').textContent,
                           images: imgs.length,
                           loaded: imgs.filter(i => i.complete && i.naturalWidth > 0).length,
                           alts: imgs.map(i => i.alt)};""",
                filename,
            )
            or {}
        )

    def wait_done(self, filename: str, variants: int = 5) -> dict[str, Any]:
        def done() -> dict[str, Any] | None:
            state = self.card(filename)
            if state.get("status") == "failed":
                raise GalleryError(f"{filename} failed: {state.get('detail')}")
            ok = state.get("status") == "done" and state["images"] >= variants and state["loaded"] >= variants
            return state if ok else None

        return self.wait(f"{filename} to be done with {variants} variant images loaded", done)

    def render(self, filename: str, **fields: str) -> dict[str, Any]:
        """Select ``filename``'s image for the playground, fill the form, render; the result."""
        from selenium.webdriver.common.by import By

        card = self.driver.find_element(
            By.CSS_SELECTOR, f'#uploads .card[data-image-id="{self.card(filename)["imageId"]}"]'
        )
        card.find_element(By.XPATH, ".//button[normalize-space()='Render…']").click()
        form = self.driver.find_element(By.ID, "render-form")
        for name, value in fields.items():
            field = form.find_element(By.NAME, name)
            if field.tag_name == "select":
                from selenium.webdriver.support.ui import Select

                Select(field).select_by_value(value)
            else:
                field.clear()
                field.send_keys(value)
        self.js("document.getElementById('render-result').replaceChildren()")
        self.driver.find_element(By.ID, "render-button").click()

        def result() -> dict[str, Any] | None:
            state = self.js(
                """const out = document.getElementById('render-result');
                   const img = out.querySelector('img');
                   const err = out.querySelector('.error');
                   if (err) return {error: err.textContent};
                   if (!img || !img.complete || !img.naturalWidth) return null;
                   return {cache: document.getElementById('render-cache').textContent,
                           url: document.getElementById('render-url').textContent,
                           width: img.naturalWidth, height: img.naturalHeight, alt: img.alt};"""
            )
            if state and state.get("error"):
                raise GalleryError(f"render failed: {state['error']}")
            return state or None

        return dict(self.wait("the rendition", result, timeout=60))

    def console_errors(self) -> list[str]:
        return [e["message"] for e in self.driver.get_log("browser") if e.get("level") == "SEVERE"]

    def screenshot(self, path: Path) -> Path:
        """A full-page PNG (the window grows to the page's height first)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        size = self.driver.get_window_size()
        height = int(self.js("return document.documentElement.scrollHeight"))
        self.driver.set_window_size(size["width"], min(max(height, 600), 4000))
        self.js("window.scrollTo(0, 0)")
        # a resize may drop decoded images: wait until every loaded image is decoded again
        self.driver.execute_async_script(
            "const done = arguments[arguments.length - 1];"
            "Promise.all([...document.images].filter(i => i.complete && i.naturalWidth)"
            ".map(i => i.decode().catch(() => null))).then(() => setTimeout(done, 200));"
        )
        self.driver.save_screenshot(str(path))
        self.driver.set_window_size(size["width"], size["height"])
        return path


def run_demo(outputs: dict[str, Any], screenshot: Path, say: Callable[[str], None] = print) -> None:
    """Upload the demo photos (and one > 10 MB) through the page, render one, screenshot it."""
    url = outputs.get("gallery_url")
    if not url:
        raise GalleryError("the stack has no gallery_url output (deploy the current program)")
    with tempfile.TemporaryDirectory(prefix="imgpipe-gallery-") as tmp, chromium() as driver:
        folder = Path(tmp)
        page = Gallery(driver)
        page.open(url)
        files = [*demo_files(folder), big_bmp(folder / "big-landscape.bmp")]
        page.upload(*files)
        for path in files:
            state = page.wait_done(path.name)
            say(f"gallery: {path.name} done ({state['route']}), {state['loaded']} variant images shown")
        rendition = page.render(files[0].name, w="480", h="270", fit="cover", format="webp", quality="75")
        size = f"{rendition['width']}x{rendition['height']}"
        say(f"gallery: render playground {size} (cache {rendition['cache']})")
        errors = page.console_errors()
        if errors:
            raise GalleryError("the browser console has errors:\n" + "\n".join(errors))
        page.screenshot(screenshot)
        say(f"gallery: screenshot {screenshot}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m verify.gallery", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--outputs", type=Path, default=LOCAL_OUTPUTS, help="local outputs file (%(default)s)"
    )
    parser.add_argument(
        "--screenshot", type=Path, default=Path(".local/gallery.png"), help="PNG to write (%(default)s)"
    )
    args = parser.parse_args(argv)
    reason = browser_missing()
    if reason:
        print(f"gallery: skipped, no browser here: {reason}")
        return EXIT_NO_BROWSER
    try:
        run_demo(load_local(args.outputs), args.screenshot)
    except (OutputsError, GalleryError) as e:
        print(f"gallery: FAILED: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
