"""Real-browser tests: pytest-django's live server and Playwright driving the system's Chromium.

No browser is downloaded (warehouse machines and CI are offline): the Debian ``chromium`` package is
used (.ci/run installs it). One browser for all e2e tests, a fresh context (cookies, storage) per test.
"""

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.db import connections

CHROMIUM = os.environ.get("E2E_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",  # CI runs as root
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
# The phone the pages are tried on (and their screenshots taken at): 375 x 740.
PHONE = {"width": 375, "height": 740}


@pytest.fixture(scope="package")
def browser(django_db_setup) -> Iterator:
    """One Chromium for the e2e tests, closed when they are done.

    Playwright's sync API keeps an asyncio loop running in this thread. While it runs, Django refuses
    the ORM (hence DJANGO_ALLOW_ASYNC_UNSAFE) and asgiref hands this thread other database connection
    objects: they get the serialized test data (for serialized_rollback) copied over, and the browser
    is closed at the end of this package so later tests get the usual connections back.
    """
    if not Path(CHROMIUM).exists():
        missing = f"no Chromium at {CHROMIUM} (apt-get install chromium, or set E2E_CHROMIUM)"
        if os.environ.get("CI"):
            pytest.fail(missing)  # CI installs it: a missing browser there is a broken CI, not a skip
        pytest.skip(missing)
    from playwright.sync_api import sync_playwright

    serialized = {alias: getattr(connections[alias], "_test_serialized_contents", None) for alias in connections}
    allow_async_unsafe = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            for alias, contents in serialized.items():
                if contents is not None:
                    connections[alias]._test_serialized_contents = contents
            chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            try:
                yield chromium
            finally:
                chromium.close()
                connections.close_all()  # this loop's connections, before the loop goes
    finally:
        if allow_async_unsafe is None:
            del os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"]
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = allow_async_unsafe


@pytest.fixture
def context(browser, live_server) -> Iterator:
    context = browser.new_context(base_url=live_server.url, viewport={"width": 412, "height": 915})
    context.set_default_timeout(10_000)
    yield context
    context.close()


@pytest.fixture
def page(context) -> Iterator:
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield page
    assert not errors, f"JavaScript errors on the page: {errors}"


@pytest.fixture
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


def phone_page(browser, live_server, **options) -> Iterator:
    """A page on a 375 x 740 phone (``options`` for its context: touch, a locale), failing the test on any
    uncaught JavaScript error."""
    context = browser.new_context(base_url=live_server.url, viewport=PHONE, **options)
    context.set_default_timeout(10_000)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield page
    context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"


@pytest.fixture
def phone(browser, live_server) -> Iterator:
    """A touch phone's page."""
    yield from phone_page(browser, live_server, is_mobile=True, has_touch=True)
