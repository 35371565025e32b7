"""Logging in and out in a real browser: the login button says "Logging in…" and takes no second press
while the password is checked (static/js/busy_form.js, under the CSP), comes back when the page does, and
logging out says so on the login page.

Transactional (the live server answers from its own thread); serialized_rollback restores the products.
"""

import threading
import time

import pytest
from playwright.sync_api import Page, expect

from accounts.views import LoginView
from tests import factories
from tests.e2e.browser import log_in, log_out

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

# While a page's own navigation waits for the server, Playwright waits for it before reading the page; sent
# into a hidden frame instead, the form's answer waits and the page stays readable (the button's script is
# the same either way). The frame shows nothing (X-Frame-Options: DENY): only the request matters.
ANSWER_IN_A_FRAME = """() => {
    const frame = Object.assign(document.createElement("iframe"), { name: "answer", hidden: true });
    document.body.append(frame);
    document.querySelector("main form").target = "answer";
}"""


@pytest.fixture
def held_login(monkeypatch):
    """The server's login answers wait until the test lets them go (the real check takes 0.4-1.4 s); the
    usernames of the attempts that reached it are recorded."""
    release, attempts = threading.Event(), []
    post = LoginView.post

    def held(view, request, *args, **kwargs):
        attempts.append(request.POST.get("username"))
        release.wait(10)
        return post(view, request, *args, **kwargs)

    monkeypatch.setattr(LoginView, "post", held)
    yield release, attempts
    release.set()


def start_logging_in(page: Page, username: str) -> None:
    page.goto("/accounts/login/?next=/scan/")
    page.evaluate(ANSWER_IN_A_FRAME)
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", factories.PASSWORD)
    page.click("main button[type=submit]")


def test_the_login_button_is_busy_while_the_password_is_checked_and_takes_no_second_press(page, held_login):
    release, attempts = held_login
    button = page.locator("main button[type=submit]")

    start_logging_in(page, "e2e-login-busy")

    expect(button).to_be_disabled()
    expect(button).to_have_text("Logging in…")
    page.press("input[name=password]", "Enter")  # impatient: again, and again
    button.click(force=True)
    time.sleep(0.3)
    release.set()
    time.sleep(0.3)
    assert attempts == ["e2e-login-busy"]


def test_the_login_button_comes_back_when_the_page_is_shown_again(page, held_login):
    button = page.locator("main button[type=submit]")
    start_logging_in(page, "e2e-login-back")
    expect(button).to_be_disabled()

    # What the browser fires when the back button brings the page out of its page cache, busy as it was left.
    page.evaluate("window.dispatchEvent(new PageTransitionEvent('pageshow', {persisted: true}))")

    expect(button).to_be_enabled()
    expect(button).to_have_text("Log in")


def test_the_login_page_left_for_the_next_one_is_ready_again_on_back(page):
    user = factories.make_user("e2e-login-return")
    log_in(page, user, "/scan/")

    page.go_back()

    expect(page.locator("main button[type=submit]")).to_be_enabled()
    expect(page.locator("main button[type=submit]")).to_have_text("Log in")


def test_logging_out_says_so_on_the_login_page(page):
    log_in(page, factories.make_user("e2e-logout"), "/")

    log_out(page)

    expect(page.get_by_role("alert")).to_have_text("You have been logged out.")
    page.reload()
    expect(page.get_by_role("alert")).to_have_count(0)  # said once
