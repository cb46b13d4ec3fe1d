"""A real API server with the inspector on loopback, and Debian's headless chromium driven by
Playwright (never a downloaded browser). One browser per module; each test gets a fresh
context (its own cookies) and a page that records console errors and CSP violations.

Screenshots go to $REMEM_UI_SCREENSHOTS when set (``docs/ui`` refreshes docs/ui.md's
pictures), else to a temporary folder: they are taken on every run either way.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from remem import Client
from remem.providers.local_embedder import LocalEmbedder
from remem.service import KeyStore, create_app
from remem.stores import open_store
from tests.service.conftest import ServerThread

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def _playwright() -> Any:
    if not CHROMIUM.exists():
        reason = "no /usr/bin/chromium: run scripts/chromium.sh (scripts/test.sh does)"
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI must run the browser tests: {reason}")
        pytest.skip(reason)
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("playwright is not installed: pip install -e '.[dev]'")
    return sync_playwright


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """One browser per module: Playwright's sync API holds an event loop on this thread while
    it runs, which would break later tests that call ``asyncio.run``."""
    with _playwright()() as driver:
        launched = driver.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield launched
        launched.close()


class Inspector:
    """The running service: its URL, a key per tenant, API clients, and new browser pages."""

    def __init__(self, app: Any, url: str, keys: KeyStore, browser: Any) -> None:
        self.app, self.url, self.keys, self.browser = app, url, keys, browser
        self.tokens: dict[str, str] = {}
        self.clients: list[Client] = []
        self.contexts: list[Any] = []

    def token(self, tenant: str) -> str:
        if tenant not in self.tokens:
            self.tokens[tenant] = self.keys.create(tenant, f"ui test {tenant}")[1]
        return self.tokens[tenant]

    def client(self, tenant: str) -> Client:
        client = Client(self.url, api_key=self.token(tenant))
        self.clients.append(client)
        return client

    def page(self, tenant: str | None = None, width: int = 1280, height: int = 800) -> Any:
        """A page in a fresh context, signed in as ``tenant``'s key when given."""
        context = self.browser.new_context(viewport={"width": width, "height": height})
        self.contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(15_000)
        page.problems = []
        page.on(
            "console",
            lambda m: m.type == "error" and page.problems.append(f"{m.text} at {m.location}"),
        )
        page.on("pageerror", lambda e: page.problems.append(str(e)))
        page.on("dialog", lambda d: d.accept())
        if tenant is not None:
            page.goto(f"{self.url}/ui/login")
            page.fill("#key", self.token(tenant))
            page.click("button[type=submit]")
            page.wait_for_url("**/ui/memories")
        return page

    def close(self) -> None:
        for context in self.contexts:
            context.close()
        for client in self.clients:
            client.close()


@pytest.fixture(scope="module")
def inspector(browser: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Inspector]:
    location = str(tmp_path_factory.mktemp("ui") / "ui.db")
    store, keys = open_store(location), KeyStore(location)
    model = LocalEmbedder.shared()
    app = create_app(location, store=store, keys=keys, embedder=model, llm=None)
    server = ServerThread(app).start()
    found = Inspector(app, server.url, keys, browser)
    yield found
    found.close()
    server.stop()
    keys.close()
    store.close()


@pytest.fixture(scope="session")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Callable[[Any, str], Path]:
    folder = Path(os.environ.get("REMEM_UI_SCREENSHOTS") or tmp_path_factory.mktemp("shots"))
    folder.mkdir(parents=True, exist_ok=True)

    def shoot(page: Any, name: str) -> Path:
        path = folder / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        assert path.stat().st_size > 1000
        return path

    return shoot
