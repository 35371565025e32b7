"""The system page (admins only) and the request counts behind it: every response counted in memory by status
class, published to the cache at most every few seconds, every live worker's figures read back on the page."""

import os
import re
import socket
import time

import pytest
from django.test import Client
from django.urls import reverse

from tests import factories
from traitortrack import metrics

pytestmark = pytest.mark.django_db
SYSTEM = reverse("system")


def counts() -> dict[str, int]:
    figures = metrics.snapshot()
    return {name: figures[name] for name in ("requests", "status_2xx", "status_3xx", "status_4xx", "status_5xx")}


def test_every_response_is_counted_by_its_status_class(client, admin_user, verified_login):
    verified_login(client, admin_user)
    before = counts()

    client.get("/health")
    client.get("/no-such-page/")
    client.get("/")
    client.get("/scan/lookup/?code=SB99999")  # 404 from a view
    Client().get("/scan/")  # anonymous: redirected to the login page

    after = counts()
    assert {name: after[name] - before[name] for name in after} == {
        "requests": 5,
        "status_2xx": 2,
        "status_3xx": 1,
        "status_4xx": 2,
        "status_5xx": 0,
    }


def test_a_server_error_is_counted(admin_user, verified_login, monkeypatch):
    def broken(**kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr("scanning.views.selectors.bag_detail", broken)
    client = verified_login(Client(raise_request_exception=False), admin_user)
    before = counts()["status_5xx"]

    assert client.get("/scan/lookup/?code=SB00001").status_code == 500

    assert counts()["status_5xx"] == before + 1


def test_counts_are_published_at_most_every_interval_and_read_back(client, redis_cache, monkeypatch):
    monkeypatch.setattr(metrics, "PUBLISH_SECONDS", 3600.0)
    metrics.publish(time.monotonic())
    mine = f"{metrics.KEY_PREFIX}{socket.gethostname()}:{os.getpid()}"
    assert mine in list(redis_cache.iter_keys(f"{metrics.KEY_PREFIX}*"))
    first = redis_cache.get(mine)

    for _ in range(3):
        client.get("/health")

    assert redis_cache.get(mine) == first  # not published again within the interval
    monkeypatch.setattr(metrics, "PUBLISH_SECONDS", 0.0)
    client.get("/health")
    assert redis_cache.get(mine)["requests"] == first["requests"] + 4


def test_the_page_sums_every_live_workers_figures(admin_client, redis_cache):
    other = {**metrics.snapshot(), "host": "web-2", "pid": 4242, "requests": 1000, "status_5xx": 7}
    other.update(requests_per_second=12.5, errors_per_minute=0.0, rss_bytes=150 * 2**20, pool=None)
    redis_cache.set(f"{metrics.KEY_PREFIX}web-2:4242", other, 60)

    html = admin_client.get(SYSTEM).content.decode()

    assert "web-2:4242" in html and "150.0\xa0MB" in html
    assert f"{metrics.snapshot()['host']}:" in html  # this worker, with its fresh figures
    mine = metrics.snapshot()  # counted after the page was rendered: one request more
    assert f"{1000 + mine['requests'] - 1} requests" in html
    assert f"{7 + mine['status_5xx']} server errors (5xx)" in html


def test_the_page_shows_the_database_and_redis(admin_client, redis_cache, settings):
    response = admin_client.get(SYSTEM)

    html = response.content.decode()
    assert response.status_code == 200
    assert 'id="check-database" class="text-success">ok<' in html
    assert "PostgreSQL" in html and "Largest tables" in html
    assert re.search(r"\d+ of \d+ on the server", html)
    assert re.search(r"<dt>Size</dt><dd>[\d.]+\xa0[KMG]B</dd>", html)  # the database's size
    assert re.search(r"<dt>Buffer cache hits</dt><dd>\d+%</dd>", html)
    pool = settings.DATABASES["default"]["OPTIONS"].get("pool")
    if pool:  # per worker, as configured and as it is now
        assert f"<dd>{pool['min_size']} to {pool['max_size']} connections, {pool['timeout']} s wait</dd>" in html
        assert re.search(rf"\d+ open, \d+ idle, max {pool['max_size']}, \d+ waiting", html)
    assert "Redis" in html and re.search(r"<dt>Hit rate</dt><dd>\d+% \(\d+ hits, \d+ misses\)</dd>", html)
    assert re.search(r"<dt>Memory</dt><dd>[\d.]+\xa0[KMG]?B", html)  # Redis's
    assert re.search(r"<td>[\d.]+\xa0[KMG]B</td>", html)  # this worker's memory
    assert re.search(r"Memory: [\d.]+\xa0[KMG]B free of [\d.]+\xa0[KMG]B", html)  # the machine's


def test_the_page_shows_a_redis_outage_instead_of_failing(admin_client, dead_redis_cache):
    response = admin_client.get(SYSTEM)

    assert response.status_code == 200
    assert 'id="check-cache" class="text-danger">unavailable<' in response.content.decode()


@pytest.mark.parametrize("role", ["dispatcher", "biller"])
def test_only_admins_open_the_system_page(client, role):
    client.force_login(factories.make_user(f"not-admin-{role}", role=role))

    assert client.get(SYSTEM).status_code == 403
