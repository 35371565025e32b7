"""Password change for a logged-in user, and reset by e-mail from the login page (Django's auth views
with our templates and audit entries)."""

import re

import pytest
from django.core import mail
from django.core.cache import caches

from audit.choices import AuditAction
from audit.models import AuditLog
from tests import factories

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "a-new-and-long-warehouse-pass-42"


@pytest.fixture(autouse=True)
def _fresh_rate_limits():
    # The counters outlive a test (they are in a cache, not the database).
    caches["ratelimit"].clear()


@pytest.fixture
def worker():
    user = factories.make_user("shift-worker")
    user.email = "worker@example.com"
    user.save(update_fields=["email"])
    return user


def change(client, old: str):
    return client.post(
        "/accounts/password/change/",
        {"old_password": old, "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )


def test_change_password_page_needs_a_login(client):
    response = client.get("/accounts/password/change/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_home_and_login_link_to_the_password_pages(client, worker):
    assert 'href="/accounts/password/reset/"' in client.get("/accounts/login/").content.decode()
    client.force_login(worker)
    assert 'href="/accounts/password/change/"' in client.get("/").content.decode()


def test_a_wrong_old_password_changes_nothing(client, worker):
    client.force_login(worker)

    response = change(client, "not-my-password")

    assert response.status_code == 200
    assert "Your old password was entered incorrectly" in response.content.decode()
    worker.refresh_from_db()
    assert worker.check_password(factories.PASSWORD)
    assert not AuditLog.objects.filter(action=AuditAction.USER_PASSWORD_CHANGE).exists()


def test_the_right_old_password_changes_it_audits_and_stays_logged_in(client, worker):
    client.force_login(worker)

    response = change(client, factories.PASSWORD)

    assert response.status_code == 302
    assert response["Location"] == "/accounts/password/change/done/"
    worker.refresh_from_db()
    assert worker.check_password(NEW_PASSWORD)
    entry = AuditLog.objects.get(action=AuditAction.USER_PASSWORD_CHANGE)
    assert entry.actor == worker
    assert entry.object_id == str(worker.pk)
    assert client.get("/accounts/password/change/done/").status_code == 200  # still logged in
    assert client.get("/").status_code == 200


def reset_link(message) -> str:
    match = re.search(r"https?://[^/\s]+(/accounts/password/reset/[^/\s]+/[^/\s]+/)", message.body)
    assert match, message.body
    return match.group(1)


def test_a_reset_request_mails_one_link_that_sets_the_new_password(client, worker):
    response = client.post("/accounts/password/reset/", {"email": "Worker@Example.com"})

    assert response.status_code == 302
    assert response["Location"] == "/accounts/password/reset/done/"
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["worker@example.com"]
    assert "TraitorTrack" in message.subject
    assert "shift-worker" in message.body

    form_page = client.get(reset_link(message), follow=True)  # Django swaps the token for a session value
    assert form_page.status_code == 200
    assert form_page.context["validlink"]
    response = client.post(
        form_page.redirect_chain[-1][0], {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD}
    )

    assert response.status_code == 302
    assert response["Location"] == "/accounts/password/reset/complete/"
    worker.refresh_from_db()
    assert worker.check_password(NEW_PASSWORD)
    entry = AuditLog.objects.get(action=AuditAction.USER_PASSWORD_RESET)
    assert entry.actor == worker
    assert entry.object_id == str(worker.pk)


def test_a_reset_link_works_once(client, worker):
    client.post("/accounts/password/reset/", {"email": "worker@example.com"})
    link = reset_link(mail.outbox[0])
    form_page = client.get(link, follow=True)
    client.post(form_page.redirect_chain[-1][0], {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})

    again = client.get(link, follow=True)

    assert not again.context["validlink"]
    assert "This link no longer works" in again.content.decode()


def test_an_unknown_address_sends_nothing_and_looks_the_same(client, worker):
    known = client.post("/accounts/password/reset/", {"email": "worker@example.com"}, follow=True)
    mail.outbox.clear()

    unknown = client.post("/accounts/password/reset/", {"email": "nobody@example.com"}, follow=True)

    assert mail.outbox == []
    assert unknown.redirect_chain == known.redirect_chain
    # Every page's language switch carries a CSRF token, masked afresh on each response.
    assert without_csrf_token(unknown.content) == without_csrf_token(known.content)


def without_csrf_token(content: bytes) -> bytes:
    return re.sub(rb'name="csrfmiddlewaretoken" value="[^"]+"', b"", content)


def test_reset_requests_are_limited_per_address(client, worker, settings):
    settings.PASSWORD_RESET_RATE_LIMIT = "3/m"
    for _ in range(3):
        assert client.post("/accounts/password/reset/", {"email": "worker@example.com"}).status_code == 302

    limited = client.post("/accounts/password/reset/", {"email": "Worker@example.com"})
    other = client.post("/accounts/password/reset/", {"email": "someone-else@example.com"})

    assert limited.status_code == 429
    assert int(limited["Retry-After"]) > 0
    assert len(mail.outbox) == 3
    assert other.status_code == 302  # another address (from the same warehouse IP) is not held up


def test_there_is_no_sign_up_page(client):
    for path in ("/accounts/register/", "/accounts/signup/", "/accounts/sign-up/"):
        assert client.get(path).status_code == 404
