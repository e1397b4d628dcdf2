"""Fixtures of the browser tests; the harness itself is in ``browser_support``."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Page

from tests.e2e.browser_support import chromium_page


@pytest.fixture
def page() -> Iterator[Page]:
    """A fresh headless Chromium page (a module needing another size or device defines its own)."""
    with chromium_page() as page:
        yield page
