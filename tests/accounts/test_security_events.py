"""Logging in, failing to and logging out are audited, through the real login form; a logout is told."""

import pytest
from django.urls import reverse

from audit.choices import AuditAction
from audit.models import AuditLog
from tests import factories

pytestmark = pytest.mark.django_db

WRONG_PASSWORD = "not-the-password-4711"


def _log_in(client, username, password):
    return client.post(
        reverse("accounts:login"), {"username": username, "password": password}, REMOTE_ADDR="203.0.113.77"
    )


def test_a_login_is_audited_with_the_user(client):
    user = factories.make_user("meera")

    response = _log_in(client, "meera", factories.PASSWORD)

    assert response.status_code == 302
    entry = AuditLog.objects.get(action=AuditAction.USER_LOGIN)
    assert (entry.actor, entry.actor_username, entry.object_id) == (user, "meera", str(user.pk))
    assert entry.ip_address == "203.0.113.0"


def test_a_failed_login_keeps_the_username_and_never_the_password(client):
    factories.make_user("meera")

    response = _log_in(client, "meera", WRONG_PASSWORD)

    assert response.status_code == 200
    entry = AuditLog.objects.get(action=AuditAction.USER_LOGIN_FAILURE)
    assert (entry.actor, entry.actor_username) == (None, "")
    assert entry.after == {"username": "meera"}
    assert entry.before is None
    assert entry.ip_address == "203.0.113.0"
    assert not AuditLog.objects.filter(action=AuditAction.USER_LOGIN).exists()
    stored = AuditLog.objects.filter(pk=entry.pk).values_list("before", "after", "object_repr").get()
    assert WRONG_PASSWORD not in repr(stored)


def test_a_failed_login_for_an_unknown_name_is_audited_too(client):
    _log_in(client, "nobody-here", WRONG_PASSWORD)

    assert AuditLog.objects.get(action=AuditAction.USER_LOGIN_FAILURE).after == {"username": "nobody-here"}


def test_a_logout_is_audited_with_the_user(client):
    user = factories.make_user("meera")
    _log_in(client, "meera", factories.PASSWORD)

    response = client.post(reverse("accounts:logout"))

    assert response.status_code == 302
    entry = AuditLog.objects.get(action=AuditAction.USER_LOGOUT)
    assert (entry.actor, entry.object_id) == (user, str(user.pk))


def test_logging_out_when_not_logged_in_writes_nothing(client):
    client.post(reverse("accounts:logout"))

    assert not AuditLog.objects.filter(action=AuditAction.USER_LOGOUT).exists()


def test_logging_out_says_so_on_the_login_page(client):
    factories.make_user("meera")
    _log_in(client, "meera", factories.PASSWORD)

    response = client.post(reverse("accounts:logout"), follow=True)

    assert response.redirect_chain == [(reverse("accounts:login"), 302)]
    assert "You have been logged out." in response.content.decode()
    assert "You have been logged out." not in client.get(reverse("accounts:login")).content.decode()  # once


def test_logging_out_when_not_logged_in_says_nothing(client):
    response = client.post(reverse("accounts:logout"), follow=True)

    assert "logged out" not in response.content.decode()
