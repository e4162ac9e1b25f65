"""Browser fixtures: the app served locally, fake-camera videos, headless Chromium pages.

Every page opened through `open_page` records its requests, so tests can assert that the
app never reaches any origin but its own.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

import harness

ARTIFACTS = Path(os.environ.get("MIMIC_ARTIFACTS", harness.ROOT / "test-artifacts"))


@pytest.fixture(scope="session")
def videos(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """One looping y4m per face; a still face keeps MediaPipe's output steady."""
    out = tmp_path_factory.mktemp("videos")
    faces = {
        "smile": harness.astronaut_png(),
        "neutral1": harness.NEUTRAL_FACES[0],
        "neutral2": harness.NEUTRAL_FACES[1],
    }
    return {name: harness.write_y4m(out / f"{name}.y4m", [(img, 2)]) for name, img in faces.items()}


@pytest.fixture(scope="session")
def app_url() -> Iterator[str]:
    with harness.app_server() as url:
        yield url


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


class Page:
    """A Playwright page plus the URLs it requested and the errors it raised."""

    def __init__(self, page, origin: str) -> None:
        self.page = page
        self.origin = origin
        self.requests: list[str] = []
        self.errors: list[str] = []
        page.on("request", lambda r: self.requests.append(r.url))
        page.on("pageerror", lambda e: self.errors.append(str(e)))

    def foreign_requests(self) -> list[str]:
        return [u for u in self.requests
                if not (u.startswith(self.origin + "/") or u.startswith(("data:", "blob:")))]


@pytest.fixture
def open_page():
    """open_page(url, video=None|Path, fake_ui=True, init_script=None) -> Page; the init
    script runs in the page before any of the app's."""
    stack = []

    def _open(url: str, video: Path | None = None, fake_ui: bool = True,
              init_script: str | None = None, wav: Path | None = None) -> Page:
        cm = harness.browser(video, fake_ui=fake_ui, wav=wav)
        browser = cm.__enter__()
        stack.append(cm)
        page = Page(browser.new_page(viewport={"width": 1280, "height": 800}), url)
        if init_script:
            page.page.add_init_script(init_script)
        page.page.goto(url + "/")
        return page

    yield _open
    for cm in reversed(stack):
        cm.__exit__(None, None, None)
