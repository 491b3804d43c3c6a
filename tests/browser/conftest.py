"""Playwright with Debian's Chromium against a live server. Screenshots go to SCREENSHOT_DIR."""

import os
import shutil
import threading
from pathlib import Path

import pytest
from django.conf import settings

# Playwright's sync API keeps an event loop running in this thread; the ORM calls the tests
# make between browser steps are ordinary synchronous code and safe here.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--no-first-run"]
SCREENSHOT_DIR = Path(os.environ.get("SCREENSHOT_DIR") or settings.BASE_DIR / "var" / "screenshots")
_taken: list[Path] = []


class _OneAtATime:
    """The WSGI application behind a lock: requests are read in parallel, answered in turn."""

    def __init__(self, app):
        self.app = app
        self.lock = threading.Lock()

    def __call__(self, environ, start_response):
        with self.lock:
            return list(self.app(environ, start_response))


@pytest.fixture(scope="session")
def live_server(request):
    """pytest-django's live server; on SQLite's in-memory database it answers one request at a
    time.

    There every server thread shares the test's single connection, and two browsers polling at
    once would trip over each other's statements. The server stays threaded, so a connection
    Chromium opens ahead of time and leaves idle cannot block the others: only the application
    call is serialized. PostgreSQL needs none of this.
    """
    from django.test.testcases import LiveServerThread
    from pytest_django.live_server_helper import LiveServer

    class SerialLiveServerThread(LiveServerThread):
        def _create_server(self, connections_override=None):
            server = super()._create_server(connections_override=connections_override)
            if connections_override:
                set_app = server.set_app
                server.set_app = lambda app: set_app(_OneAtATime(app))
            return server

    server = LiveServer(request.config.getvalue("liveserver") or "localhost", start=False)
    threaded = server.thread
    server.thread = SerialLiveServerThread(
        threaded.host, threaded.static_handler, connections_override=threaded.connections_override,
        port=threaded.port,
    )
    server.thread.daemon = True
    server.start()
    yield server
    server.stop()


@pytest.fixture
def browser():
    """Chromium for one test. Not session-long: a Playwright loop left running in the main
    thread breaks serialized_rollback for the transactional tests that run later (they would
    lose the shipped SLA and approval-policy rows)."""
    if not Path(CHROMIUM).exists() and not shutil.which(CHROMIUM):
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI=true and Chromium is missing at {CHROMIUM}")
        pytest.skip(f"Chromium not found at {CHROMIUM}")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def open_as(browser, live_server):
    """A signed-in page for `username`: open_as("agent", viewport=(1440, 900), javascript=True)."""
    contexts = []

    def open_page(username, *, viewport=(1440, 900), javascript=True, accept_language="en"):
        context = browser.new_context(
            viewport={"width": viewport[0], "height": viewport[1]}, java_script_enabled=javascript,
            extra_http_headers={"Accept-Language": accept_language},
        )
        context.set_default_timeout(15_000)
        contexts.append(context)
        page = context.new_page()
        page.goto(f"{live_server.url}/accounts/login/")
        page.fill("#id_username", username)
        page.fill("#id_password", "caretickets")
        page.click("button[type=submit]")
        page.wait_for_url(f"{live_server.url}/tickets/")
        return page

    yield open_page
    for context in contexts:
        for page in context.pages:
            page.goto("about:blank")  # pagehide: the presence "leave" beacon goes out now
        context.pages[0].wait_for_timeout(300) if context.pages else None
        context.close()


@pytest.fixture
def screenshot():
    def take(page, name: str) -> Path:
        SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOT_DIR / f"{name}.png"
        page.screenshot(path=str(path))
        _taken.append(path)
        return path

    return take


def pytest_terminal_summary(terminalreporter):
    if _taken:
        terminalreporter.write_line(f"Screenshots ({len(_taken)}) written to {SCREENSHOT_DIR}")
