"""Hindi or English: the navbar's switch, a choice kept per user (and in a cookie before logging in), the
browser's language otherwise; refusals, e-mails and printouts follow it; codes never change."""

import datetime
import json
import uuid

import pytest
from django.contrib.humanize.templatetags.humanize import intcomma
from django.core import mail
from django.db import IntegrityError, transaction
from django.test import Client
from django.utils import formats, translation

from accounts.models import Role, User
from tests import factories

pytestmark = pytest.mark.django_db

SWITCH = "/accounts/language/"


@pytest.fixture
def dispatcher(area):
    return factories.make_user("loader", area=area)


def test_english_is_the_default_and_the_switch_offers_hindi(client):
    page = client.get("/accounts/login/").content.decode()

    assert '<html lang="en">' in page
    assert 'name="language" value="hi" lang="hi">हिन्दी</button>' in page
    assert "Forgot your password?" in page


def test_a_browser_asking_for_hindi_gets_hindi(client):
    page = client.get("/accounts/login/", headers={"accept-language": "hi-IN,hi;q=0.9,en;q=0.5"})

    assert page["Content-Language"] == "hi"
    assert "पासवर्ड भूल गए?" in page.content.decode()


def test_before_logging_in_the_choice_is_kept_in_the_language_cookie(client):
    switched = client.post(SWITCH, {"language": "hi", "next": "/accounts/login/"})

    assert switched.status_code == 302 and switched["Location"] == "/accounts/login/"
    assert client.cookies["django_language"].value == "hi"
    page = client.get("/accounts/login/").content.decode()
    assert '<html lang="hi">' in page and "पासवर्ड भूल गए?" in page
    assert 'value="en" lang="en">English</button>' in page


def test_a_logged_in_users_choice_follows_them_to_another_phone(client, dispatcher):
    client.force_login(dispatcher)
    client.post(SWITCH, {"language": "hi", "next": "/"})

    dispatcher.refresh_from_db()
    assert dispatcher.language == "hi"
    other_phone = Client(headers={"accept-language": "en"})  # a browser in English, no cookie
    other_phone.force_login(dispatcher)
    assert "बड़ी बोरी स्कैन करें" in other_phone.get("/scan/").content.decode()


def test_a_language_we_do_not_have_changes_nothing(client, dispatcher):
    client.force_login(dispatcher)

    answer = client.post(SWITCH, {"language": "xx", "next": "/"})

    assert answer.status_code == 302
    dispatcher.refresh_from_db()
    assert dispatcher.language == ""


def test_the_switch_never_sends_to_another_site(client):
    answer = client.post(SWITCH, {"language": "hi", "next": "https://evil.example/"})

    assert answer["Location"] == "/"


def test_the_database_refuses_a_language_we_do_not_have(dispatcher):
    with pytest.raises(IntegrityError, match="user_language_valid"), transaction.atomic():
        User.objects.filter(pk=dispatcher.pk).update(language="xx")


def test_a_scan_refusal_is_in_hindi_and_its_code_is_not(dispatcher, mustard):
    dispatcher.language = "hi"
    dispatcher.save()
    client = Client()
    client.force_login(dispatcher)

    answer = client.post(
        "/api/scan/parent",
        json.dumps({"client_scan_id": uuid.uuid4().hex, "code": "SB12"}),
        content_type="application/json",
    )

    body = answer.json()
    assert answer.status_code == 422
    assert body["code"] == "child_where_parent_expected"
    assert body["message"].startswith("'SB12' Mustard की बड़ी बोरी जैसा लगता है")


def test_the_javascript_catalog_comes_from_our_origin_in_the_users_language(client, dispatcher):
    dispatcher.language = "hi"
    dispatcher.save()
    client.force_login(dispatcher)

    catalog = client.get("/jsi18n/")

    assert catalog.status_code == 200
    assert catalog["Content-Type"].startswith("text/javascript")
    assert "script-src 'self'" in catalog["Content-Security-Policy"]
    assert json.dumps("बड़ी बोरी स्कैन करें") in catalog.content.decode()  # the catalog's strings are JSON


def test_one_catalog_address_is_always_one_language(client):
    page = client.get("/accounts/login/").content.decode()
    assert '<script src="/jsi18n/?lang=en"></script>' in page

    hindi = client.get("/jsi18n/?lang=hi").content.decode()
    english = client.get("/jsi18n/?lang=en", headers={"accept-language": "hi"}).content.decode()

    assert json.dumps("बड़ी बोरी स्कैन करें") in hindi
    assert "बड़ी" not in english and json.dumps("बड़ी") not in english


def test_the_reset_mail_is_in_the_language_its_reader_chose(client, dispatcher):
    dispatcher.email = "loader@example.com"
    dispatcher.language = "hi"
    dispatcher.save()

    client.post("/accounts/password/reset/", {"email": "loader@example.com"})  # the page itself in English

    (message,) = mail.outbox
    assert message.subject == "TraitorTrack का नया पासवर्ड चुनें"
    assert "नमस्ते loader," in message.body and "/accounts/password/reset/" in message.body


def test_the_manifest_prints_in_hindi_with_the_bill_number_unchanged(client):
    biller = factories.make_user("hindi-biller", role=Role.BILLER)
    biller.language = "hi"
    biller.save()
    bill = factories.make_bill(biller, bill_number="INV-77")
    client.force_login(biller)

    sheet = client.get(f"/bills/{bill.pk}/manifest/").content.decode()

    assert "डिस्पैच माल सूची" in sheet and "बिल INV-77" in sheet
    assert "दस्तख़त" in sheet and "Dispatch manifest" not in sheet


def test_the_return_note_prints_in_hindi_with_the_ticket_number_unchanged(client):
    biller = factories.make_user("hindi-returns", role=Role.BILLER)
    biller.language = "hi"
    biller.save()
    ticket = factories.make_return_ticket(biller)
    client.force_login(biller)

    sheet = client.get(f"/returns/{ticket.pk}/note/").content.decode()

    assert "वापसी नोट" in sheet and ticket.number in sheet
    assert "कच्ची: पक्की नहीं, अभी बदल सकती है" in sheet and "Return note" not in sheet


@pytest.mark.parametrize("language", ["en", "hi"])
def test_numbers_group_in_lakhs_and_dates_put_the_day_first(language):
    with translation.override(language):
        assert intcomma(1234567) == "12,34,567"
        assert intcomma(123456789) == "12,34,56,789"
        assert formats.date_format(datetime.date(2026, 12, 3), "SHORT_DATE_FORMAT") == "03/12/2026"


def test_a_notification_is_written_in_its_readers_language(admin_user, dispatcher):
    from accounts.services import decide_promotion, request_promotion

    dispatcher.language = "hi"
    dispatcher.save()
    promotion = request_promotion(user=dispatcher, to_role=Role.BILLER, reason="I bill at the gate")

    decide_promotion(admin=admin_user, promotion=promotion, approve=True)  # the admin's language: English

    assert dispatcher.notifications.get().message == "बिलर बनने की आपकी अर्ज़ी मंज़ूर हुई।"
