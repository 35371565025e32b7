"""What the browser tests share: logging in through the real form, reading codes as a keyboard-wedge
scanner does, recording the page's feedback, and the colours of its answers."""

from playwright.sync_api import Page

from tests import factories

GREEN = "rgb(15, 81, 50)"
RED = "rgb(155, 28, 28)"

# Record the pages' vibrations and tones (headless Chromium has neither a motor nor a speaker) while
# still calling the browser's own vibrate and Web Audio, so anything blocking them would still show.
RECORD_FEEDBACK = """
    window.__vibrations = [];
    const vibrate = navigator.vibrate ? navigator.vibrate.bind(navigator) : null;
    navigator.vibrate = (pattern) => { window.__vibrations.push(pattern); return vibrate ? vibrate(pattern) : false; };
    window.__tones = [];
    const createOscillator = AudioContext.prototype.createOscillator;
    AudioContext.prototype.createOscillator = function () {
        const oscillator = createOscillator.call(this);
        const start = oscillator.start.bind(oscillator);
        oscillator.start = (when) => { window.__tones.push(oscillator.frequency.value); start(when); };
        return oscillator;
    };
"""


def log_in(page: Page, user, next_url: str = "/scan/", *, navigate: bool = True) -> None:
    """Log in through the login form (opened here unless the page is already on it)."""
    if navigate:
        page.goto(f"/accounts/login/?next={next_url}")
    page.fill("input[name=username]", user.username)
    page.fill("input[name=password]", factories.PASSWORD)
    page.click("main button[type=submit]")  # not the navbar's language switch
    page.wait_for_url(f"**{next_url}")


def scan(page: Page, code: str) -> None:
    """What a keyboard-wedge scanner does: type into whatever has focus, then Enter."""
    page.keyboard.type(code)
    page.keyboard.press("Enter")
