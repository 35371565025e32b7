"""RequestIdMiddleware: every response carries an id, and the audit entries a request writes carry the same."""

import re

import pytest
from django.urls import reverse

from audit.choices import AuditAction
from audit.models import AuditLog
from tests import factories

pytestmark = pytest.mark.django_db


def test_a_request_without_an_id_gets_a_fresh_one(client):
    first = client.get(reverse("accounts:login"))
    second = client.get(reverse("accounts:login"))

    assert re.fullmatch(r"[0-9a-f]{32}", first["X-Request-ID"])
    assert first["X-Request-ID"] != second["X-Request-ID"]


def test_a_sane_incoming_id_is_kept(client):
    response = client.get(reverse("accounts:login"), headers={"X-Request-ID": "proxy-42.a_B"})

    assert response["X-Request-ID"] == "proxy-42.a_B"


@pytest.mark.parametrize(
    "incoming",
    ["x" * 65, "has space", "evil\\r\\nX-Injected: 1", "semi;colon", "ünïcode", ""],
)
def test_an_unsafe_incoming_id_is_replaced(client, incoming):
    response = client.get(reverse("accounts:login"), headers={"X-Request-ID": incoming})

    assert re.fullmatch(r"[0-9a-f]{32}", response["X-Request-ID"])


def test_the_longest_allowed_id_is_kept(client):
    response = client.get(reverse("accounts:login"), headers={"X-Request-ID": "a" * 64})

    assert response["X-Request-ID"] == "a" * 64


def test_the_audit_entry_carries_the_request_id_of_its_request(client):
    factories.make_user("asha")

    response = client.post(reverse("accounts:login"), {"username": "asha", "password": factories.PASSWORD})

    assert response.status_code == 302
    assert AuditLog.objects.get(action=AuditAction.USER_LOGIN).request_id == response["X-Request-ID"]


def test_a_generated_id_is_the_one_audited_even_when_the_header_was_unsafe(client):
    factories.make_user("asha")

    response = client.post(
        reverse("accounts:login"),
        {"username": "asha", "password": factories.PASSWORD},
        headers={"X-Request-ID": "not a token"},
    )

    entry = AuditLog.objects.get(action=AuditAction.USER_LOGIN)
    assert entry.request_id == response["X-Request-ID"] != "not a token"
