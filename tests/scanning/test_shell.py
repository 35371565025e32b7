"""The offline shell's server side: the service worker script, the web app manifest and the offline page
(the browser's side is tests/e2e/test_scan_shell.py)."""

import json
import re
import struct

import pytest
from django.contrib.staticfiles import finders
from django.contrib.staticfiles.storage import staticfiles_storage
from django.urls import reverse

from scanning import shell
from tests import factories

WORKER_URL = "/sw.js"
MANIFEST_URL = "/manifest.webmanifest"


def shell_config(response) -> dict:
    first_line = response.content.decode().split("\n", 1)[0]
    assert first_line.startswith("const SHELL = ") and first_line.endswith(";")
    return json.loads(first_line.removeprefix("const SHELL = ").removesuffix(";"))


def test_service_worker_is_served_from_the_root_to_anyone_and_never_from_a_cache(client):
    response = client.get(WORKER_URL)

    assert response.status_code == 200
    assert response["Content-Type"] == "text/javascript; charset=utf-8"
    assert response["Cache-Control"] == "no-cache"
    config = shell_config(response)
    assert config["page"] == "/scan/"
    assert config["forget"] == ["/accounts/login/", "/accounts/logout/"]
    assert config["offline"] == reverse("scanning:offline")
    assert 'self.addEventListener("fetch"' in response.content.decode()


def test_every_file_the_worker_keeps_is_there(client):
    # One missing file and the browser refuses to install the worker (cache.addAll fails).
    config = shell_config(client.get(WORKER_URL))

    assert "/static/js/scan.js" in config["static"]
    for url in config["static"]:
        assert finders.find(url.removeprefix("/static/")), url


def test_version_follows_the_static_files(settings, tmp_path):
    before = shell.version()
    assert before == shell.version()  # the same files, the same version

    copy = tmp_path / "js"
    copy.mkdir()
    (copy / "scan.js").write_text("// a new release\n")
    settings.STATICFILES_DIRS = [tmp_path, *settings.STATICFILES_DIRS]  # found first: this scan.js wins
    finders.get_finder.cache_clear()
    try:
        assert shell.version() != before
    finally:
        finders.get_finder.cache_clear()


def test_version_follows_the_static_manifests_hash_in_production(settings, tmp_path, monkeypatch):
    # What collectstatic writes for ManifestStaticFilesStorage; its "hash" changes with any static file.
    (tmp_path / "staticfiles.json").write_text(json.dumps({"paths": {}, "version": "1.1", "hash": "0a1b2c3d4e5f"}))
    settings.STATIC_ROOT = tmp_path
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.ManifestStaticFilesStorage"},
    }
    first = shell.version()
    assert staticfiles_storage.manifest_hash == "0a1b2c3d4e5f" and shell.version() == first

    monkeypatch.setattr(staticfiles_storage, "manifest_hash", "9f8e7d6c5b4a")  # the next release's collectstatic

    assert shell.version() != first


def test_version_follows_the_scripts_translations(settings, tmp_path):
    before = shell.version()
    catalog = tmp_path / "hi" / "LC_MESSAGES" / "djangojs.mo"
    catalog.parent.mkdir(parents=True)
    catalog.write_bytes(b"a release that changed only the Hindi words")
    settings.LOCALE_PATHS = [*settings.LOCALE_PATHS, tmp_path]

    assert shell.version() != before


def test_the_worker_keeps_the_scripts_catalog_in_every_language(client, settings):
    config = shell_config(client.get(WORKER_URL))

    assert (
        config["catalogs"]
        == [f"/jsi18n/?lang={code}" for code, _name in settings.LANGUAGES]
        == [
            "/jsi18n/?lang=en",
            "/jsi18n/?lang=hi",
        ]
    )


def imported_modules(path: str, found: set[str] | None = None) -> set[str]:
    """``path`` (a static file) and every module it imports, and they import, by relative name."""
    found = found if found is not None else set()
    found.add(path)
    folder = path.rsplit("/", 1)[0]
    with open(finders.find(path)) as source:
        for name in re.findall(r'^import .* from "\./([\w.]+\.js)";', source.read(), re.MULTILINE):
            if f"{folder}/{name}" not in found:
                imported_modules(f"{folder}/{name}", found)
    return found


def test_the_worker_keeps_every_module_the_scan_page_imports():
    # One left out and the page opened offline, once the browser's own cache has let it go, loads no script.
    modules = imported_modules("js/scan.js")

    assert {"js/scan.js", "js/i18n.js", "js/camera.js", "js/scan_queue.js"} <= modules
    assert modules <= set(shell.SHELL_FILES)


def png_size(path: str) -> tuple[int, int]:
    with open(path, "rb") as png:
        header = png.read(24)
    assert header[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", header[16:24])


def test_web_manifest_makes_the_scan_page_installable(client):
    response = client.get(MANIFEST_URL)

    assert response.status_code == 200
    assert response["Content-Type"] == "application/manifest+json"
    manifest = response.json()
    assert (manifest["name"], manifest["start_url"], manifest["display"]) == ("TraitorTrack", "/scan/", "standalone")
    sizes = {icon["sizes"]: icon["src"] for icon in manifest["icons"]}
    assert sorted(sizes) == ["192x192", "512x512"]
    for size, url in sizes.items():
        width, height = png_size(finders.find(url.removeprefix("/static/")))
        assert f"{width}x{height}" == size


@pytest.mark.django_db
def test_offline_page_names_no_user_even_for_a_logged_in_one(client):
    user = factories.make_user("offline-reader")
    client.force_login(user)

    response = client.get(reverse("scanning:offline"))

    assert response.status_code == 200
    assert "No network" in response.content.decode()
    assert user.username not in response.content.decode()


@pytest.mark.django_db
def test_scan_page_links_its_manifest_and_worker(client):
    client.force_login(factories.make_user("manifest-reader"))

    page = client.get(reverse("scanning:scan")).content.decode()

    assert f'<link rel="manifest" href="{MANIFEST_URL}">' in page
    assert f'data-worker-url="{WORKER_URL}"' in page


@pytest.mark.django_db
def test_every_page_names_its_icon_and_the_worker_keeps_what_base_html_loads(client):
    page = client.get(reverse("accounts:login")).content.decode()

    assert '<link rel="icon" href="/static/icons/favicon.svg" type="image/svg+xml">' in page
    # The scan page opens offline only if everything base.html loads is kept.
    for path in ("icons/favicon.svg", "js/navbar.js", "css/traitortrack.css"):
        assert f"/static/{path}" in page
        assert path in shell.SHELL_FILES


def test_favicon_ico_sends_to_the_icon_to_anyone(client):
    # Browsers ask for /favicon.ico by themselves; a 404 there is a console error on every page.
    response = client.get("/favicon.ico")

    assert response.status_code == 302
    assert response["Location"] == "/static/icons/favicon.ico"
    with open(finders.find("icons/favicon.ico"), "rb") as icon:
        assert icon.read(4) == b"\x00\x00\x01\x00"  # an ICO file's header
