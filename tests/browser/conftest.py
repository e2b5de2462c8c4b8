"""Browser tests: the session app served on a real port, driven by Debian's chromium through Playwright for Python.

Playwright's own browser builds are never downloaded (`playwright install` is not used): the system chromium is
launched by path. Chromium resolves ``*.localhost`` to loopback by itself, so a tenant is reached at
``http://<slug>.localhost:<port>/`` with no hosts file and no resolver rules.

One live server and one browser per test process (each xdist worker has its own, on a port the OS picks), a new
browser context (cookies, storage) per page a test opens. Without chromium or Playwright the tests are skipped with
the reason, except under CI=true, where scripts/test installs both and a missing one is a failure.
"""
from __future__ import annotations

import os
import shutil
import threading

import pytest
from werkzeug.serving import WSGIRequestHandler, make_server

#: a phone: the portal is mobile-first
VIEWPORT = {'width': 390, 'height': 844}
LOCALE = 'zh-CN'
#: how long an action or an assertion waits before failing (the pages answer in milliseconds here)
TIMEOUT_MS = 10_000


def _missing(reason: str):
    if os.environ.get('CI') in ('true', '1'):
        pytest.fail(f'{reason} (required when CI=true: scripts/test installs it)', pytrace=False)
    pytest.skip(reason)


def chromium_path() -> str | None:
    return shutil.which('chromium') or shutil.which('chromium-browser')


class _QuietHandler(WSGIRequestHandler):
    """No access log per request (errors are still logged)."""

    def log_request(self, *args, **kwargs):
        pass


@pytest.fixture(scope='session')
def live_server(app):
    """The session's app on 127.0.0.1 and a port the OS picked (port 0: xdist workers never collide)."""
    server = make_server('127.0.0.1', 0, app, threaded=True, request_handler=_QuietHandler)
    thread = threading.Thread(target=server.serve_forever, name='live-server', daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


@pytest.fixture(scope='session')
def playwright_api():
    try:
        from playwright import sync_api
    except ImportError:
        _missing('Playwright for Python is not installed (pip install -r requirements-dev.txt)')
    return sync_api


@pytest.fixture(scope='session')
def browser(playwright_api):
    path = chromium_path()
    if path is None:
        _missing("chromium is not installed (Debian: apt-get install chromium; scripts/test's ensure_browser does it)")
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=path, headless=True)
        yield browser
        browser.close()


@pytest.fixture
def expect(playwright_api):
    """Playwright's auto-waiting assertions (``expect(locator).to_have_text(...)``)."""
    playwright_api.expect.set_options(timeout=TIMEOUT_MS)
    return playwright_api.expect


@pytest.fixture
def open_page(browser, live_server):
    """open_page(tenant) -> a new page on the tenant's host, in a fresh context (no cookies): a phone, in Chinese.

    Each call is another person's phone; everything opened is closed after the test.
    """
    contexts = []

    def open_(tenant):
        context = browser.new_context(base_url=f'http://{tenant.slug}.localhost:{live_server.server_port}',
                                      viewport=VIEWPORT, is_mobile=True, has_touch=True, locale=LOCALE)
        context.set_default_timeout(TIMEOUT_MS)
        contexts.append(context)
        return context.new_page()

    yield open_
    for context in contexts:
        context.close()
