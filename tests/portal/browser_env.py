"""Module-scoped fixtures of the browser tests: a live chain (`chain`), the partner app on
it (`site`) and Debian's headless Chromium (`browser`). A test module takes them with
`chain = browser_env.chain` (and so on), as tests/portal/conftest.py takes the API's."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, sync_playwright

from tests.portal.live import CHROMIUM, LiveChain, LiveSite, live_chain

__all__ = ["browser", "chain", "site"]


@pytest.fixture(scope="module")
def chain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveChain]:
    with live_chain(tmp_path_factory.mktemp("live")) as live:
        yield live


@pytest.fixture(scope="module")
def site(chain: LiveChain) -> Iterator[LiveSite]:
    with chain.serve() as served:
        yield served


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
        yield launched
        launched.close()
