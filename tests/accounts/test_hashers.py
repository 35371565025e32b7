"""Password hashing off the gevent loop (accounts/hashers.py): a login's hash no longer stalls the worker's
other requests. Measured in a gevent-patched process, as a gunicorn worker is: a greenlet that wakes every
5 ms keeps waking while a password is hashed with the app's hasher, and stalls for the whole hash with
Django's own."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.contrib.auth.hashers import PBKDF2PasswordHasher as DjangosHasher
from django.contrib.auth.hashers import check_password, get_hasher

from accounts.hashers import PBKDF2PasswordHasher

ROOT = Path(__file__).resolve().parents[2]

# Hashes once with the hasher named on the command line while a ticker greenlet measures the longest gap
# between its wake-ups; prints both.
STALL_PROBE = """
from gevent import monkey
monkey.patch_all()
import json, sys, time
import django, gevent
django.setup()
from django.contrib.auth.hashers import PBKDF2PasswordHasher, get_hasher
hasher = get_hasher("default") if sys.argv[1] == "app" else PBKDF2PasswordHasher()
gaps = []
def tick():
    last = time.perf_counter()
    while True:
        gevent.sleep(0.005)
        now = time.perf_counter()
        gaps.append(now - last)
        last = now
ticker = gevent.spawn(tick)
gevent.sleep(0.05)
gaps.clear()
started = time.perf_counter()
hasher.encode("a password at shift start", hasher.salt())
took = time.perf_counter() - started
gevent.sleep(0.02)
ticker.kill()
print(json.dumps({"hash": took, "longest_stall": max(gaps)}))
"""


def stall(hasher: str) -> dict[str, float]:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "traitortrack.settings"}
    env.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/unused")  # settings read it; no query
    done = subprocess.run(
        [sys.executable, "-c", STALL_PROBE, hasher], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.splitlines()[-1])


def test_a_login_hash_leaves_the_event_loop_running():
    djangos, apps = stall("django"), stall("app")

    assert djangos["longest_stall"] > 0.8 * djangos["hash"], djangos  # the probe sees a stall when there is one
    assert apps["longest_stall"] < apps["hash"] / 3, apps


@pytest.mark.parametrize("iterations", [None, 1000])
def test_the_hashes_are_djangos_own(iterations):
    ours, djangos = PBKDF2PasswordHasher(), DjangosHasher()
    salt = ours.salt()

    assert ours.algorithm == djangos.algorithm
    assert ours.encode("secret password", salt, iterations) == djangos.encode("secret password", salt, iterations)


def test_the_app_hashes_with_it(settings):
    from traitortrack import settings as project_settings  # the autouse fixture swapped in MD5 for speed

    settings.PASSWORD_HASHERS = project_settings.PASSWORD_HASHERS
    assert isinstance(get_hasher("default"), PBKDF2PasswordHasher)
    assert check_password("secret password", DjangosHasher().encode("secret password", "somesalt"))
