"""What the browser tests share: a headless Chromium (tests.conftest.launch_chromium) per test."""
from __future__ import annotations

import pytest

from tests.conftest import launch_chromium


@pytest.fixture
def browser():
    playwright_api = pytest.importorskip("playwright.sync_api")
    with playwright_api.sync_playwright() as p:
        browser = launch_chromium(p)
        yield browser
        browser.close()
