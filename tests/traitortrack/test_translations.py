"""Nothing a dispatcher or biller reads is left in English on a Hindi page: every marked string has a Hindi
translation (the catalog is made afresh from the code, as a new string would be), the compiled catalogs are
those of the .po files, and no template shows words outside the translate tags.

The catalog tests run GNU gettext's own tools (makemessages needs xgettext and msgmerge; Debian ``gettext``,
which .ci/run installs), on copies in a temporary folder: the committed locale/ is never rewritten.
"""

import ast
import gettext as gnu_gettext
import html.parser
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib import auth
from django.core.management import call_command

LOCALE = Path(settings.BASE_DIR) / "locale"
TEMPLATES = Path(settings.BASE_DIR) / "templates"
DOMAINS = ("django", "djangojs")
# What makemessages must not read: other trees' code and strings that no page shows.
IGNORED = [".venv", "staticfiles", "static/vendor", "node_modules", "bench", "tests", "test-artifacts", ".pgdata"]

# A string only the temporary tree's probe file has: found there, makemessages read that tree.
PROBE = "A string new to the catalog, which makemessages must find"
# Pages only an admin opens (the Django admin's own, its overrides, two-factor set-up, deletion confirms and
# the system page): not a dispatcher's or biller's, so they may stay English.
ADMIN_ONLY = {
    "accounts/2fa_recovery_codes.html",
    "accounts/2fa_setup.html",
    "accounts/2fa_verify.html",
    "system.html",
    "tracking/bag_delete.html",
    "tracking/bag_action_confirm.html",
    "tracking/bag_admin_delete.html",
}
# Words that are the same in every language: the product's name and the switch's own label.
SAME_IN_EVERY_LANGUAGE = {"TraitorTrack", "English"}
# Attributes a person reads (a screen reader says aria-label; data-confirm is the confirm box's question).
READ_ATTRIBUTES = {"placeholder", "aria-label", "title", "alt", "data-confirm"}

pytestmark = pytest.mark.skipif(shutil.which("msgattrib") is None, reason="GNU gettext is not installed")


@pytest.fixture(scope="module")
def committed_catalogs() -> dict[str, bytes]:
    """The committed .po files as they were before makemessages ran."""
    return {domain: (LOCALE / "hi" / "LC_MESSAGES" / f"{domain}.po").read_bytes() for domain in DOMAINS}


@pytest.fixture(scope="module")
def fresh_catalogs(tmp_path_factory, committed_catalogs) -> Path:
    """The committed catalogs brought up to date with the code by makemessages, in a temporary copy.

    makemessages writes each file's strings to the locale folder of the tree the file is in: run in the
    checkout, it would rewrite the committed locale/ and leave the copy as it was. So it runs in a folder of
    links to the checkout's sources (followed with ``symlinks``) beside the copy of locale/."""
    tree = tmp_path_factory.mktemp("tree")
    for source in Path(settings.BASE_DIR).iterdir():
        if source.name not in IGNORED and source.name != "locale" and not source.name.startswith("."):
            (tree / source.name).symlink_to(source)
    (tree / "translation_probe.py").write_text(f"from django.utils.translation import gettext\n\ngettext({PROBE!r})\n")
    locale = tree / "locale"
    shutil.copytree(LOCALE, locale)
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(tree)
        patch.setattr(settings, "LOCALE_PATHS", [locale])
        for domain in DOMAINS:
            call_command(
                "makemessages", locale=["hi"], domain=domain, ignore_patterns=IGNORED, symlinks=True, verbosity=0
            )
    return locale / "hi" / "LC_MESSAGES"


def test_makemessages_read_the_code_and_left_the_committed_catalogs_alone(fresh_catalogs, committed_catalogs):
    # The probe's string, new to the catalog, is in the copy; the committed ones are byte for byte as they were.
    assert PROBE in msgids((fresh_catalogs / "django.po").read_text())
    for domain in DOMAINS:
        assert (LOCALE / "hi" / "LC_MESSAGES" / f"{domain}.po").read_bytes() == committed_catalogs[domain]


def msgids(po_text: str, keyword: str = "msgid") -> list[str]:
    """The message ids of a .po text (msgattrib's output), the header's empty one left out; ``msgid_plural``
    for the plural ones."""
    ids = []
    for block in po_text.split("\n\n"):
        match = re.search(rf'^{keyword} ((?:".*"\n?)+)', block, re.MULTILINE)
        if match:
            text = "".join(re.findall(r'"(.*)"', match.group(1)))
            if text:
                ids.append(text)
    return ids


@pytest.mark.parametrize("domain", DOMAINS)
def test_every_string_has_a_hindi_translation(fresh_catalogs, domain):
    po = fresh_catalogs / f"{domain}.po"
    untranslated = subprocess.run(
        ["msgattrib", "--untranslated", "--no-obsolete", str(po)], capture_output=True, text=True, check=True
    ).stdout
    fuzzy = subprocess.run(
        ["msgattrib", "--only-fuzzy", "--no-obsolete", str(po)], capture_output=True, text=True, check=True
    ).stdout

    missing = [text for text in msgids(untranslated) if text != PROBE]
    assert missing == [], f"untranslated in locale/hi/LC_MESSAGES/{domain}.po (run makemessages)"
    assert msgids(fuzzy) == [], f"fuzzy (a guess by msgmerge) in locale/hi/LC_MESSAGES/{domain}.po"


@pytest.mark.parametrize("domain", DOMAINS)
def test_the_committed_catalog_is_the_compiled_po(tmp_path, domain):
    po = LOCALE / "hi" / "LC_MESSAGES" / f"{domain}.po"
    compiled = tmp_path / f"{domain}.mo"
    subprocess.run(["msgfmt", "--check", "-o", str(compiled), str(po)], check=True)

    def catalog(path: Path) -> dict:
        with path.open("rb") as file:
            return gnu_gettext.GNUTranslations(file)._catalog

    assert catalog(po.with_suffix(".mo")) == catalog(compiled), "run: manage.py compilemessages -l hi"


class _VisibleText(html.parser.HTMLParser):
    """The text a person sees or hears in a template's HTML, Django's tags taken out beforehand."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.texts: list[str] = []
        self._hidden = 0

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "style"):
            self._hidden += 1
        self.texts += [value for name, value in attrs if name in READ_ATTRIBUTES and value]

    def handle_endtag(self, tag):
        if tag in ("script", "style"):
            self._hidden -= 1

    def handle_data(self, data):
        if not self._hidden:
            self.texts.append(data)


def untranslated_words(source: str) -> list[str]:
    """Words of ``source`` (a template) outside {% translate %} and {% blocktranslate %}."""
    source = re.sub(r"{% comment %}.*?{% endcomment %}|{#.*?#}", "", source, flags=re.DOTALL)
    source = re.sub(r"{% blocktranslate.*?{% endblocktranslate %}", "", source, flags=re.DOTALL)
    source = re.sub(r"{%.*?%}|{{.*?}}", "", source, flags=re.DOTALL)
    parser = _VisibleText()
    parser.feed(source)
    found = []
    for text in parser.texts:
        if re.fullmatch(r"\s*[a-z]+(-[a-z]+)+\s*", text):
            continue  # an element id a block fills in (bills/list_page.html's table_id), not words
        words = re.findall(r"[A-Za-z][A-Za-z'.-]*[A-Za-z]", text)
        if [word for word in words if word not in SAME_IN_EVERY_LANGUAGE]:
            found.append(" ".join(text.split()))
    return found


def test_templates_show_no_words_outside_the_translate_tags():
    pages = [
        path
        for path in sorted(TEMPLATES.rglob("*"))
        if path.suffix in (".html", ".txt") and path.relative_to(TEMPLATES).parts[0] != "admin"
    ]
    assert len(pages) > 40  # the walk found the templates
    found = {
        str(path.relative_to(TEMPLATES)): words
        for path in pages
        if str(path.relative_to(TEMPLATES)) not in ADMIN_ONLY and (words := untranslated_words(path.read_text()))
    }

    assert found == {}


def test_the_template_check_finds_english_text_attributes_and_leaves_tags():
    source = """{% load i18n %}<p title="Bag code">{% translate "Scan" %} TraitorTrack</p>
    <button>Undo</button>{% blocktranslate with n=3 %}{{ n }} bags{% endblocktranslate %}
    {{ bag.qr_id }} · <script>const x = "Not shown";</script>"""

    assert untranslated_words(source) == ["Bag code", "Undo"]


def test_djangos_words_we_translate_are_still_djangos():
    """accounts/django_words.py puts plain Hindi over Django's own for its auth forms: each text must still be
    one Django has (its English catalog lists them all), or ours would silently stop applying."""
    source = (Path(settings.BASE_DIR) / "accounts" / "django_words.py").read_text()
    ours = [
        argument.value
        for call in ast.walk(ast.parse(source))
        if isinstance(call, ast.Call) and getattr(call.func, "id", "") in ("gettext_noop", "ngettext_lazy")
        for argument in call.args[:2]
        if isinstance(argument, ast.Constant) and argument.value != "min_length"
    ]
    django_catalog = Path(auth.__file__).parent / "locale" / "en" / "LC_MESSAGES" / "django.po"
    text = django_catalog.read_text()
    theirs = set(msgids(text)) | set(msgids(text, "msgid_plural"))

    assert len(ours) > 20
    assert [words for words in ours if words not in theirs] == []
