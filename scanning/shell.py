"""The scan page's offline app shell: the service worker (static/js/service_worker.js, served at /sw.js so
its scope is the whole site) and the web app manifest that makes the page installable.

The worker's caches are named by the release's version: the hash of the static files' manifest
(ManifestStaticFilesStorage's ``manifest_hash``, which changes with any static file), or without a manifest
(DEBUG, tests) a hash of the shell's own files. A new release thus gives a new /sw.js, which the browser
installs at the next load, dropping the old caches.
"""

import hashlib
import json
from pathlib import Path

from django.conf import settings
from django.contrib.staticfiles import finders
from django.contrib.staticfiles.storage import staticfiles_storage
from django.templatetags.static import static
from django.urls import reverse
from django.utils.translation import gettext

WORKER_SOURCE = "js/service_worker.js"
# What the scan page loads (base.html's styles, icon and navbar script, scan.js and the modules it imports) and
# the app's icons: kept at install, so the page opens offline even if it was loaded only once, before the worker
# ran.
SHELL_FILES = (
    "vendor/bootstrap-5.3.9/bootstrap.min.css",
    "css/traitortrack.css",
    "js/scan.js",
    "js/feedback.js",
    "js/camera.js",
    "js/wedge.js",
    "js/i18n.js",
    "js/session_warning.js",
    "js/scan_queue.js",
    "js/shell.js",
    "js/navbar.js",
    "icons/favicon.svg",
    "icons/icon-192.png",
    "icons/icon-512.png",
)
ICON_SIZES = (192, 512)


def version() -> str:
    """The release's version: changes whenever a static file or a script's translation does (the catalogs
    are kept like the static files, and a release may change only the words)."""
    digest = hashlib.sha256()
    manifest_hash = getattr(staticfiles_storage, "manifest_hash", "")
    if manifest_hash:
        digest.update(manifest_hash.encode())
    else:
        for path in (*SHELL_FILES, WORKER_SOURCE):
            digest.update(_read(path))
    for code, _name in settings.LANGUAGES:
        for folder in settings.LOCALE_PATHS:
            catalog = Path(folder) / code / "LC_MESSAGES" / "djangojs.mo"
            if catalog.exists():
                digest.update(catalog.read_bytes())
    return digest.hexdigest()[:12]


def catalog_urls() -> list[str]:
    """The scripts' words in each language (base.html loads the page's one before the modules): one address
    is always one language, so the worker keeps them all and a page opened offline speaks its user's."""
    return [f"{reverse('javascript-catalog')}?lang={code}" for code, _name in settings.LANGUAGES]


def _read(path: str) -> bytes:
    found = finders.find(path)
    if found is None:  # only collected (a deployment without the sources)
        with staticfiles_storage.open(path) as collected:
            return collected.read()
    with open(found, "rb") as source:
        return source.read()


def shell_urls() -> list[str]:
    """The shell's static files at the URLs pages use: hashed in production; the plain name too, since
    scan.js's modules import each other by plain relative names."""
    urls = []
    for path in SHELL_FILES:
        for url in (static(path), settings.STATIC_URL + path):
            if url not in urls:
                urls.append(url)
    return urls


def worker_script() -> str:
    shell = {
        "version": version(),
        "static": shell_urls(),
        "static_prefix": settings.STATIC_URL,
        "catalogs": catalog_urls(),
        "page": reverse("scanning:scan"),
        "offline": reverse("scanning:offline"),
        # Going to these empties the pages' cache: whoever logs in next never gets the last user's page.
        "forget": [reverse("accounts:login"), reverse("accounts:logout")],
    }
    return f"const SHELL = {json.dumps(shell)};\n" + _read(WORKER_SOURCE).decode()


def web_manifest() -> dict:
    """Installable (Chromium's rules): a name, 192 and 512 px icons, a start URL, standalone display."""
    return {
        "name": "TraitorTrack",
        "short_name": "TraitorTrack",
        "description": gettext("Scan bags into parent bags, with or without a network."),
        "start_url": reverse("scanning:scan"),
        "scope": "/",
        "display": "standalone",
        "icons": [
            {"src": static(f"icons/icon-{size}.png"), "sizes": f"{size}x{size}", "type": "image/png", "purpose": "any"}
            for size in ICON_SIZES
        ],
    }
