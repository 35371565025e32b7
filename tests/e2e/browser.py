"""What the browser tests share: logging in through the real form, reading codes as a keyboard-wedge
scanner does, recording the page's feedback, and the colours of its answers."""

from playwright.sync_api import Page

from tests import factories

GREEN = "rgb(21, 115, 71)"  # --tt-ok
RED = "rgb(155, 28, 28)"
THEME_GREEN = "rgb(45, 80, 22)"  # --tt-green: the navbar, the bottom bar, the admin's header

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


def log_out(page: Page) -> None:
    """Log out as a person does: the navbar's user menu, then its Log out button."""
    page.click("#user-menu summary")
    page.click("#user-menu button:text('Log out')")
    page.wait_for_url("**/accounts/login/")


def scan(page: Page, code: str) -> None:
    """What a keyboard-wedge scanner does: type into whatever has focus, then Enter."""
    page.keyboard.type(code)
    page.keyboard.press("Enter")


# Every piece of text the page shows, with its size and its contrast with the background behind it (the first
# ancestor with a background colour), by WCAG's formula; transitions finished first, so colours are the final ones.
READABILITY = """
() => {
  document.getAnimations().forEach((animation) => animation.finish());
  const rgb = (value) => (value.match(/[\\d.]+/g) || []).map(Number);
  const luminance = (colour) => {
    const [r, g, b] = colour.map((c) => (c / 255 <= 0.03928 ? c / 255 / 12.92 : ((c / 255 + 0.055) / 1.055) ** 2.4));
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
  };
  const behind = (element) => {
    for (let node = element; node; node = node.parentElement) {
      const colour = rgb(getComputedStyle(node).backgroundColor);
      if (colour.length === 3 || colour[3] > 0) return colour.slice(0, 3);
    }
    return [255, 255, 255];
  };
  const texts = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  while (walker.nextNode()) {
    const element = walker.currentNode.parentElement;
    const box = element.getBoundingClientRect();
    const shown = element.checkVisibility({ checkOpacity: true, checkVisibilityCSS: true }) && box.width > 1;
    if (!walker.currentNode.textContent.trim() || !shown || element.closest("progress")) continue;
    const style = getComputedStyle(element);
    const [a, b] = [luminance(rgb(style.color)), luminance(behind(element))];
    texts.push({
      text: walker.currentNode.textContent.trim().slice(0, 40),
      px: parseFloat(style.fontSize),
      contrast: (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05),
    });
  }
  return texts;
}
"""
