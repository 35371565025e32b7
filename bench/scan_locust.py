"""Locust users for bench/scan_loop.py: logged-in dispatchers scanning a parent, then its children.

Run by bench/scan_loop.py, which sets everything below through the environment (a single locust
process: the user numbers and the measuring window are kept in this module). Each user logs in once
(on_start), then loops: open a new parent (POST /api/scan/parent), scan new children into it
(POST /api/scan/child) until the answer says the parent is full, open the next parent. One task is
one scan, so constant_throughput(1) is one scan per second per dispatcher.

Users log in as they are spawned (bench/scan_loop.py spawns a few per second: a login hashes the
password on purpose, a quarter of a second of CPU each) and wait until every one has, then all start
scanning. The measured window opens when the warm-up is over: the statistics are reset then,
and the users are stopped after BENCH_SECONDS, so the CSV files hold exactly the window. Its start
and end go to BENCH_WINDOW_FILE.

    BENCH_USERS          dispatchers (locust -u), numbered from 1: bench_d001, ...
    BENCH_USER_PREFIX    username prefix (bench_d)
    BENCH_PASSWORD       their password
    BENCH_PARENTS_FILE   JSON list of free parent codes; user i takes codes i, i + N, i + 2N, ...
    BENCH_RUN_ID         7 characters [A-Z0-9], unique per run: child codes are BN + run id + user + counter
    BENCH_RATE           scans per second per dispatcher; 0 = as fast as answers come
    BENCH_WARMUP         seconds of scanning before the window opens
    BENCH_SECONDS        length of the measured window
    BENCH_WINDOW_FILE    where the window's start and end (epoch seconds) are written
"""

import itertools
import json
import logging
import os
import random
import time
import uuid

import gevent
import gevent.event
from locust import FastHttpUser, constant, constant_throughput, events, task
from locust.exception import StopUser

USERS = int(os.environ.get("BENCH_USERS", "1"))
USER_PREFIX = os.environ.get("BENCH_USER_PREFIX", "bench_d")
PASSWORD = os.environ.get("BENCH_PASSWORD", "")
RUN_ID = os.environ.get("BENCH_RUN_ID", "0000000")
RATE = float(os.environ.get("BENCH_RATE", "0"))
WARMUP = float(os.environ.get("BENCH_WARMUP", "10"))
SECONDS = float(os.environ.get("BENCH_SECONDS", "30"))
WINDOW_FILE = os.environ.get("BENCH_WINDOW_FILE", "")
LOGIN_TIMEOUT = float(os.environ.get("BENCH_LOGIN_TIMEOUT", "300"))
LOGIN_ATTEMPTS = 5

# A refusal about the parent itself: scanning more children into it cannot succeed, take the next one.
NEXT_PARENT_CODES = {"parent_full", "parent_complete", "unknown_parent", "not_your_area"}

_numbers = itertools.count()
_logged_in = 0
_login_failures = 0
_login_errors: dict[str, int] = {}  # what failed logins were answered, retried ones included
# Set when every dispatcher has logged in: all start scanning together.
_all_logged_in = gevent.event.Event()
_parent_codes: list[str] = []
if os.environ.get("BENCH_PARENTS_FILE"):
    with open(os.environ["BENCH_PARENTS_FILE"], encoding="utf-8") as file:
        _parent_codes = json.load(file)

log = logging.getLogger("scan_locust")


class Dispatcher(FastHttpUser):
    wait_time = constant_throughput(RATE) if RATE > 0 else constant(0)

    def on_start(self) -> None:
        global _logged_in, _login_failures
        self.number = next(_numbers)
        self.username = f"{USER_PREFIX}{self.number + 1:03d}"
        self.parents = iter(_parent_codes[self.number :: USERS])
        self.parent: str | None = None
        self.children = itertools.count(1)
        for attempt in range(LOGIN_ATTEMPTS):
            if self.login():
                break
            gevent.sleep(1 + attempt)
        else:
            _login_failures += 1
            raise StopUser
        _logged_in += 1
        _all_logged_in.wait()
        if RATE > 0:
            # Dispatchers do not scan in step: without this, all would fire in the same instant each second.
            gevent.sleep(random.uniform(0, 1 / RATE))

    def login(self) -> bool:
        page = self.client.get("/accounts/login/", name="login page")
        form = {"username": self.username, "password": PASSWORD, "csrfmiddlewaretoken": self.cookie("csrftoken")}
        with self.client.post(
            "/accounts/login/",
            data=form,
            headers={"Referer": f"{self.host}/accounts/login/"},
            allow_redirects=False,
            name="login",
            catch_response=True,
        ) as response:
            # Success is a redirect; a 200 is the form shown again with an error.
            if page.status_code != 200 or response.status_code != 302 or not self.cookie("sessionid"):
                error = f"login page HTTP {page.status_code}, login HTTP {response.status_code}"
                _login_errors[error] = _login_errors.get(error, 0) + 1
                response.failure(error)
                return False
        # Django rotates the CSRF token at login.
        self.csrf = self.cookie("csrftoken")
        return True

    def cookie(self, name: str) -> str:
        for cookie in self.client.cookiejar:
            if cookie.name == name:
                return cookie.value
        return ""

    @task
    def scan(self) -> None:
        if self.parent is None:
            self.open_parent()
        else:
            self.scan_child()

    def post_scan(self, path: str, name: str, payload: dict) -> dict | None:
        """The answer's body if it was a 200 with ok=true; otherwise a failure named by HTTP status and code."""
        payload = {"client_scan_id": uuid.uuid4().hex, **payload}
        headers = {"X-CSRFToken": self.csrf, "Referer": f"{self.host}/scan/"}
        with self.client.post(path, json=payload, headers=headers, name=name, catch_response=True) as response:
            try:
                body = response.json()
            except ValueError:
                body = {}
            if response.status_code == 200 and body.get("ok"):
                return body
            code = body.get("code", "no JSON code") if isinstance(body, dict) else "no JSON code"
            response.failure(f"HTTP {response.status_code} {code}")
            self.last_refusal = code
            return None

    def open_parent(self) -> None:
        code = next(self.parents, None)
        if code is None:
            log.error("%s ran out of free parent codes: give the run more (scan_loop.py)", self.username)
            raise StopUser
        if self.post_scan("/api/scan/parent", "parent", {"code": code}) is not None:
            self.parent = code

    def scan_child(self) -> None:
        # BN + 7 (run) + 3 (user) + 8 (counter) = 20 characters: never a parent format, never a seeded code.
        child = f"BN{RUN_ID}{self.number + 1:03d}{next(self.children):08d}"
        body = self.post_scan("/api/scan/child", "child", {"parent": self.parent, "code": child})
        if body is not None:
            if body["parent"]["full"]:
                self.parent = None
        elif self.last_refusal in NEXT_PARENT_CODES:
            self.parent = None


def _write_window(window: dict) -> None:
    if WINDOW_FILE:
        with open(WINDOW_FILE, "w", encoding="utf-8") as file:
            json.dump(window, file)


def _measure(environment) -> None:
    """Wait for every login and the warm-up, reset the statistics, measure SECONDS, stop the run."""
    window: dict = {"users": USERS}
    started = time.time()
    while _logged_in + _login_failures < USERS and time.time() - started < LOGIN_TIMEOUT:
        gevent.sleep(0.2)
    window.update(
        logged_in=_logged_in,
        login_failures=_login_failures,
        login_errors=_login_errors,
        login_seconds=time.time() - started,
    )
    _all_logged_in.set()
    gevent.sleep(WARMUP)
    environment.runner.stats.reset_all()
    window["start"] = time.time()
    _write_window(window)
    gevent.sleep(SECONDS)
    window["end"] = time.time()
    _write_window(window)
    # Stop the users first and let locust's CSV writer (once a second) catch the final figures.
    environment.runner.stop()
    gevent.sleep(1.5)
    environment.runner.quit()


@events.test_start.add_listener
def _on_test_start(environment, **kwargs) -> None:
    gevent.spawn(_measure, environment)
