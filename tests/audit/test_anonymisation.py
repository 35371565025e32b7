"""ANONYMIZE_AUDIT_LOGS: record() stores IPs cut to their network and e-mail addresses masked, or both as is."""

import pytest
from django.test import RequestFactory

from audit.choices import AuditAction
from audit.services import record

pytestmark = pytest.mark.django_db

SNAPSHOT = {
    "username": "jaya",
    "email": "jaya@example.com",
    "profile": {"email": "Jaya.R@mail.example.org", "phone": "123"},
    "contacts": [{"email": "k@example.net"}, {"name": "no mail"}],
    "Email": "upper@example.com",
    "note": "email me at jaya@example.com",
}


def _request(**meta):
    return RequestFactory().post("/admin/", **meta)


@pytest.fixture
def anonymised(settings):
    settings.ANONYMIZE_AUDIT_LOGS = True


@pytest.fixture
def plain(settings):
    settings.ANONYMIZE_AUDIT_LOGS = False


def test_anonymisation_is_on_by_default(settings):
    assert settings.ANONYMIZE_AUDIT_LOGS is True


@pytest.mark.parametrize(
    ("remote_addr", "stored"),
    [
        ("203.0.113.77", "203.0.113.0"),
        ("2001:db8:abcd:12:34::1", "2001:db8:abcd::"),
        ("::ffff:198.51.100.9", "198.51.100.0"),
        ("not-an-ip", ""),
    ],
)
def test_the_ip_is_cut_to_its_network(anonymised, remote_addr, stored):
    entry = record(actor=None, action=AuditAction.USER_LOGIN, request=_request(REMOTE_ADDR=remote_addr))

    entry.refresh_from_db()
    assert entry.ip_address == stored


def test_every_email_in_the_snapshots_is_masked(anonymised):
    entry = record(actor=None, action=AuditAction.USER_CHANGE, before=SNAPSHOT, after={"email": "b@x.io"})

    entry.refresh_from_db()
    assert entry.before == {
        "username": "jaya",
        "email": "j***@example.com",
        "profile": {"email": "J***@mail.example.org", "phone": "123"},
        "contacts": [{"email": "k***@example.net"}, {"name": "no mail"}],
        "Email": "u***@example.com",
        # Only fields named email are masked; free text is the caller's to keep clean.
        "note": "email me at jaya@example.com",
    }
    assert entry.after == {"email": "b***@x.io"}


def test_an_empty_or_odd_email_is_never_stored_in_clear(anonymised):
    entry = record(
        actor=None, action=AuditAction.USER_LOGIN, after={"email": "", "profile": {"email": "not-an-address"}}
    )

    entry.refresh_from_db()
    assert entry.after == {"email": "", "profile": {"email": "***"}}


def test_with_anonymisation_off_ip_and_emails_are_stored_as_is(plain):
    entry = record(
        actor=None,
        action=AuditAction.USER_CHANGE,
        before=SNAPSHOT,
        request=_request(REMOTE_ADDR="2001:db8:abcd:12:34::1"),
    )

    entry.refresh_from_db()
    assert entry.before == SNAPSHOT
    assert entry.ip_address == "2001:db8:abcd:12:34::1"


def test_x_forwarded_for_is_ignored_without_the_tls_proxy(anonymised, settings):
    settings.SECURE_PROXY_SSL_HEADER = None

    entry = record(
        actor=None,
        action=AuditAction.USER_LOGIN,
        request=_request(REMOTE_ADDR="10.0.0.5", HTTP_X_FORWARDED_FOR="203.0.113.7"),
    )

    entry.refresh_from_db()
    assert entry.ip_address == "10.0.0.0"


def test_behind_the_tls_proxy_the_hop_it_appended_is_the_client(plain, settings):
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    # The client sent the first address itself; the proxy appended the one it saw.
    request = _request(REMOTE_ADDR="10.0.0.5", HTTP_X_FORWARDED_FOR="1.2.3.4, 203.0.113.7")

    entry = record(actor=None, action=AuditAction.USER_LOGIN, request=request)

    entry.refresh_from_db()
    assert entry.ip_address == "203.0.113.7"


def test_behind_the_tls_proxy_a_garbled_header_falls_back_to_the_peer(plain, settings):
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

    entry = record(
        actor=None,
        action=AuditAction.USER_LOGIN,
        request=_request(REMOTE_ADDR="10.0.0.5", HTTP_X_FORWARDED_FOR="unknown"),
    )

    entry.refresh_from_db()
    assert entry.ip_address == "10.0.0.5"
