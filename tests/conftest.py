"""Shared fixtures: a real Chromium per test (launching costs ~0.15 s) and a loopback-served site."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from harness.browser.launch import BrowserSession, open_browser
from harness.browser.server import serve_folder
from harness.settings import Settings

REPO = Path(__file__).resolve().parent.parent
PAGES = Path(__file__).resolve().parent / "pages"


@pytest.fixture
async def browser() -> AsyncIterator[BrowserSession]:
    async with open_browser(Settings()) as session:
        yield session


@pytest.fixture
def pages_url() -> Iterator[str]:
    """Base URL of ``tests/pages/`` served on 127.0.0.1."""
    with serve_folder(PAGES) as url:
        yield url
