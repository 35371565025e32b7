"""Who may use what: every URL pattern of the project (found in the URL conf, not a hand list) requested by
every role, each answer checked against the access each view declares (traitortrack.permissions.access).

An allowed request may answer 200, a redirect elsewhere (a form done, the admin's own redirects), 404 (an
object the user may not see, e.g. another area's bag) or 405 (a POST-only endpoint asked with GET): what
matters is that the permission layer let it through. A refused one answers 302 to the login page
(anonymous, pages), 401 (anonymous, API), 403 (wrong role), or 302 to the 2FA pages / 403 otp_required on
the API (an admin without a verified second factor, accounts.middleware.AccessMiddleware).
"""

import json
import uuid

import pytest
from django.test import Client, RequestFactory
from django.urls import resolve

from accounts.middleware import ROLE_REFUSED
from accounts.models import Role
from audit.choices import AuditAction
from audit.services import record
from bags.models import Bag
from scanning import services as scanning
from tests import factories
from tests.urls import fill, url_arguments, url_patterns
from traitortrack.edge import is_api
from traitortrack.permissions import ADMIN, BILLER, LOGGED_IN, PUBLIC, access_of, is_otp_exempt, undeclared_view_names

pytestmark = pytest.mark.django_db

ROLES = ["anonymous", "dispatcher_a", "dispatcher_b", "biller", "admin_without_otp", "admin_with_otp"]
LOGIN = "/accounts/login/"
TWO_FACTOR = "/accounts/2fa/"
# Refusals by the permission layer, as outcome() writes them. A 403 from a view itself (the Django admin's
# per-model rules: the audit log is read-only, scans are append-only) is "403 view": allowed through.
REFUSED = ("401", "403 role", "403 forbidden", "403 otp_required", f"302 {LOGIN}", f"302 {TWO_FACTOR}")
# Pages whose whole job is to send to the login or 2FA pages, so that answer is not a refusal.
SEND_ON = {"admin:login", "accounts:otp_setup", "accounts:otp_verify", "accounts:otp_recovery_codes"}


@pytest.fixture
def world(admin_user, mustard):
    """Two areas, a dispatcher in each, a biller, A's parent with a child on a bill, and a row of every model
    the admin shows, so the URLs reach real objects."""
    area_a, area_b = factories.make_area("Area A"), factories.make_area("Area B")
    dispatcher_a = factories.make_user("dispatcher-a", area=area_a)
    dispatcher_b = factories.make_user("dispatcher-b", area=area_b)
    biller = factories.make_user("biller", role=Role.BILLER)
    scanning.open_parent(user=dispatcher_a, raw_code="SB00001", client_scan_id=uuid.uuid4().hex)
    scanning.scan_child(user=dispatcher_a, parent_code="SB00001", raw_code="C0000001", client_scan_id=uuid.uuid4().hex)
    bill = factories.make_bill(admin_user)
    parent = Bag.objects.get(qr_id="SB00001")
    factories.put_on_bill(bill, parent)
    record(actor=admin_user, action=AuditAction.BILL_CHANGE, obj=bill)
    factories.make_lockout()
    return {
        "users": {
            "dispatcher_a": dispatcher_a,
            "dispatcher_b": dispatcher_b,
            "biller": biller,
            "admin_without_otp": admin_user,
            "admin_with_otp": admin_user,
        },
        "objects": url_arguments(
            bill=bill, parent=parent, user=admin_user, ticket=factories.make_return_ticket(admin_user)
        ),
    }


def client_for(role: str, world: dict, verified_login) -> Client:
    client = Client()
    if role == "admin_with_otp":
        return verified_login(client, world["users"][role])
    if role != "anonymous":
        client.force_login(world["users"][role])
    return client


def allowed(role: str, view) -> bool:
    access = access_of(view)
    if role == "anonymous":
        return access is PUBLIC
    if role.startswith("dispatcher"):
        return access in (PUBLIC, LOGGED_IN)
    if role == "biller":
        return access in (PUBLIC, LOGGED_IN, BILLER)
    if role == "admin_without_otp":
        return is_otp_exempt(view)
    return access in (PUBLIC, LOGGED_IN, BILLER, ADMIN)


def refusal(role: str, api: bool) -> str:
    """How a refused request must answer, as "status" or "status location-prefix"."""
    if role == "anonymous":
        return "401" if api else f"302 {LOGIN}"
    if role == "admin_without_otp":
        return "403 otp_required" if api else f"302 {TWO_FACTOR}"
    return "403 forbidden" if api else "403 role"


def outcome(response, api: bool) -> str:
    """The answer in the terms of refusal(): status, and where a redirect goes or an API error's code."""
    status = response.status_code
    if status in (301, 302):
        return f"{status} {response['Location']}"
    if status == 403 and api:
        return f"403 {response.json().get('code')}"
    if status == 403:
        return "403 role" if ROLE_REFUSED in response.content.decode() else "403 view"
    return str(status)


def test_every_url_name_is_declared():
    # A view that declares no access is refused to everyone; this and the system check name it.
    assert undeclared_view_names() == [], "declare who may use these views: traitortrack.permissions.access"


@pytest.mark.parametrize("role", ROLES)
def test_every_url_answers_each_role_as_declared(role, world, verified_login):
    client = client_for(role, world, verified_login)
    mismatches = []
    for route, pattern in url_patterns():
        url = fill(route, pattern, world["objects"], no_row="0")
        match = resolve(url)
        view_name, level = match.view_name, access_of(match.func)
        api = is_api(RequestFactory().get(url))
        got = outcome(client.get(url), api)
        if allowed(role, match.func):
            if got.startswith(REFUSED) and not (view_name in SEND_ON and got.startswith("302")):
                mismatches.append(f"{url} ({view_name}, {level}): allowed, but answered {got}")
        elif not got.startswith(refusal(role, api)):
            mismatches.append(f"{url} ({view_name}, {level}): expected {refusal(role, api)}, got {got}")
    assert mismatches == [], f"{role}:\n" + "\n".join(mismatches)


def test_a_dispatcher_sees_only_the_bags_of_their_area(world):
    a, b = Client(), Client()
    a.force_login(world["users"]["dispatcher_a"])
    b.force_login(world["users"]["dispatcher_b"])

    assert a.get("/api/bags/SB00001").status_code == 200
    answer = b.get("/api/bags/SB00001")
    assert answer.status_code == 404
    assert answer.json()["code"] == "unknown_bag"


def test_a_dispatcher_cannot_scan_into_another_areas_parent(world):
    b = Client()
    b.force_login(world["users"]["dispatcher_b"])

    answer = b.post(
        "/api/scan/child",
        json.dumps({"client_scan_id": uuid.uuid4().hex, "parent": "SB00001", "code": "C0000002"}),
        content_type="application/json",
    )

    assert answer.status_code == 403
    assert answer.json()["code"] == "not_your_area"
    assert not Bag.objects.filter(qr_id="C0000002", parent_link__isnull=False).exists()


def test_an_undeclared_url_is_refused_to_everyone(world, verified_login, monkeypatch):
    # Fail closed: take the declaration of the scan page away and even an admin is refused.
    from scanning import views
    from traitortrack import permissions

    monkeypatch.delattr(views.scan_page, "access")
    client = verified_login(Client(), world["users"]["admin_with_otp"])

    assert client.get("/scan/").status_code == 403
    assert Client().get("/scan/").status_code == 403
    assert permissions.undeclared_view_names() == ["scanning:scan"]


def test_the_api_refuses_in_json(world):
    anonymous, dispatcher = Client(), Client()
    dispatcher.force_login(world["users"]["dispatcher_a"])

    assert anonymous.get("/api/bills").json()["code"] == "not_logged_in"
    answer = dispatcher.get("/api/bills")
    assert answer.status_code == 403
    assert answer.json()["ok"] is False
    assert answer.json()["code"] == "forbidden"


def test_a_refused_page_says_why(world):
    dispatcher = Client()
    dispatcher.force_login(world["users"]["dispatcher_a"])

    answer = dispatcher.get("/bills/")

    assert answer.status_code == 403
    assert "Not allowed" in answer.content.decode()


def test_manage_py_check_reports_an_undeclared_url_name(monkeypatch):
    # The system check is registered at start-up (accounts/apps.py), so `manage.py check` runs it too.
    from django.core import checks

    from traitortrack import health as views

    monkeypatch.delattr(views.health, "access")

    errors = [e for e in checks.run_checks(tags=[checks.Tags.urls]) if e.id == "traitortrack.E001"]

    assert [e.msg for e in errors if "'health'" in e.msg]
