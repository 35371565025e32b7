"""Security headers on every answer: each URL pattern of the project (found in the URL conf, so a new page
cannot be forgotten), the 404 page, the JSON API and the static files whitenoise serves. The camera is
allowed on the three scanner pages only, which alone may compile WebAssembly (zxing-wasm)."""

import json
import uuid

import pytest
from django.conf import settings
from django.test import Client
from django.urls import resolve

from accounts.services import request_promotion
from audit.choices import AuditAction
from audit.services import record
from bags.models import Bag
from returns.models import ReturnTicket
from scanning import services as scanning
from tests import factories
from tests.urls import fill, url_arguments, url_patterns

pytestmark = pytest.mark.django_db

EXPECTED_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
    "connect-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
)

CAMERA_PAGE_CSP = EXPECTED_CSP.replace("script-src 'self'", "script-src 'self' 'wasm-unsafe-eval'")
CAMERA_ROUTES = {"scan/", "bills/<int:pk>/", "returns/<int:pk>/"}


def assert_security_headers(response, *, camera: bool = False) -> None:
    assert response["X-Frame-Options"] == "DENY"
    assert response["Content-Security-Policy"] == (CAMERA_PAGE_CSP if camera else EXPECTED_CSP)
    if camera:
        assert response["Permissions-Policy"] == settings.PERMISSIONS_POLICY.replace("camera=()", "camera=(self)")
        assert "camera=(self)" in response["Permissions-Policy"]
    else:
        assert response["Permissions-Policy"] == settings.PERMISSIONS_POLICY
        assert "camera=()" in response["Permissions-Policy"]
    for feature in ("microphone", "geolocation"):
        assert f"{feature}=()" in response["Permissions-Policy"]
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["Cross-Origin-Opener-Policy"] == "same-origin"


ROUTES = sorted(route for route, _ in url_patterns())


@pytest.fixture
def objects(admin_user):
    """At least one row of every model the admin shows, made the way the application makes them."""
    dispatcher = factories.make_user("csp-dispatcher")
    scanning.open_parent(user=dispatcher, raw_code="SB00001", client_scan_id=uuid.uuid4().hex)
    scanning.scan_child(user=dispatcher, parent_code="SB00001", raw_code="C0000001", client_scan_id=uuid.uuid4().hex)
    bill = factories.make_bill(admin_user)
    parent = Bag.objects.get(qr_id="SB00001")
    factories.put_on_bill(bill, parent)
    record(actor=admin_user, action=AuditAction.BILL_CHANGE, obj=bill)
    factories.make_lockout()
    request_promotion(user=dispatcher, to_role="biller", reason="Covering the billing desk")
    return url_arguments(bill=bill, parent=parent, user=admin_user, ticket=factories.make_return_ticket(admin_user))


def test_every_url_pattern_is_found():
    # A sanity check on the discovery itself: project pages, API and admin are all walked.
    assert {"scan/", "api/scan/child", "bills/<int:pk>/", "admin/", "admin/bills/bill/"} <= set(ROUTES)
    assert len(ROUTES) > 90


@pytest.mark.parametrize("route", ROUTES)
def test_every_url_answers_with_the_security_headers(admin_client, objects, route):
    pattern = dict(url_patterns())[route]
    url = fill(route, pattern, objects)
    assert resolve(url).route == route, f"{url} does not reach {route}"

    response = admin_client.get(url)

    assert response.status_code < 500
    # A scanner page's own answer allows the camera; its 404 (returns/<pk>/ is filled with a bill's pk, which
    # may be no ticket's) is the error page's, which does not.
    assert_security_headers(response, camera=route in CAMERA_ROUTES and response.status_code == 200)


def test_the_scanner_pages_allow_the_camera(admin_client, objects):
    ticket = ReturnTicket.objects.get()
    urls = ["/scan/", f"/bills/{objects['bill_id']}/", f"/returns/{ticket.pk}/"]
    assert {resolve(url).route for url in urls} == CAMERA_ROUTES

    for url in urls:
        response = admin_client.get(url)

        assert response.status_code == 200, url
        assert_security_headers(response, camera=True)


def test_a_page_that_does_not_exist(admin_client):
    response = admin_client.get("/no-such-page/")

    assert response.status_code == 404
    assert_security_headers(response)


def test_a_server_error_page(admin_user, monkeypatch, verified_login):
    def broken(**kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr("scanning.views.selectors.bag_detail", broken)
    client = verified_login(Client(raise_request_exception=False), admin_user)

    response = client.get("/scan/lookup/?code=SB00001")

    assert response.status_code == 500
    assert_security_headers(response)


def test_an_anonymous_visitor_sent_to_the_login_page(client):
    redirect = client.get("/scan/")
    login = client.get(redirect["Location"])

    assert redirect.status_code == 302
    assert login.status_code == 200
    assert_security_headers(redirect)
    assert_security_headers(login)


def test_a_json_api_answer(area, mustard):
    dispatcher = factories.make_user("csp-api", area=area)
    client = Client()
    client.force_login(dispatcher)

    response = client.post(
        "/api/scan/parent",
        json.dumps({"client_scan_id": uuid.uuid4().hex, "code": "SB00009"}),
        content_type="application/json",
    )

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert_security_headers(response)


def test_static_files_served_by_whitenoise(settings):
    # Whitenoise answers static files itself, before the middleware after it; ours sits before it.
    settings.WHITENOISE_USE_FINDERS = True
    client = Client()  # a fresh handler, so whitenoise starts with the setting above

    response = client.get(f"{settings.STATIC_URL}css/traitortrack.css")

    assert response.status_code == 200
    assert "whitenoise" in type(response).__module__
    assert_security_headers(response)


def test_hsts_is_sent_over_https_in_production(settings):
    settings.SECURE_HSTS_SECONDS = 31536000
    settings.SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    settings.SECURE_HSTS_PRELOAD = True

    over_https = Client().get("/accounts/login/", secure=True)
    over_http = Client().get("/accounts/login/")

    assert over_https["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains; preload"
    assert "Strict-Transport-Security" not in over_http
    assert_security_headers(over_https)


@pytest.mark.parametrize("url", ["/scan/", "/api/scan/recent", "/admin/", "/no-such-page/"])
def test_an_admin_refused_before_the_second_factor(admin_user, url):
    # The refusal comes from the access middleware, before the view: it carried no X-Frame-Options.
    client = Client()
    client.force_login(admin_user)

    response = client.get(url)

    assert response.status_code in (302, 403, 404)
    assert_security_headers(response)
