"""The end-of-day summary (reports/summary.py): its figures against the raw rows, its two parts, the
recipient's language, sent once per recipient, the by-hand command and the preview page."""

from datetime import date, datetime, time, timedelta
from decimal import Decimal

import pytest
from django.core import mail
from django.core.management import CommandError, call_command
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone, translation
from procrastinate.contrib.django import app

from accounts.models import Role, User
from bags.models import Bag
from bills.weights import readable_kg
from reports import summary
from reports.exceptions import RULES
from reports.models import DailySummary, SummaryMail
from reports.tasks import TASK, send_daily_summary
from scanning.choices import ScanAction
from scanning.error_codes import ScanRefusal
from scanning.models import Scan, ScanReply
from tests import factories
from tests.bills.data import fill
from tests.clock import LOCAL

pytestmark = pytest.mark.django_db

DAY = date(2026, 11, 19)  # the day before tests/clock.py's FROZEN_AT
PAGE = "/reports/summary/"


def at(day: date, hour: int, minute: int = 0, second: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute, second), tzinfo=LOCAL)


def recipient(username: str, *, role: str = Role.BILLER, language: str = "", email: str | None = None) -> User:
    user = factories.make_user(username, role=role)
    user.email = f"{username}@example.com" if email is None else email
    user.language = language
    user.save(update_fields=["email", "language"])
    return user


def scan(user: User, when: datetime, action: str = ScanAction.LINK) -> Scan:
    return Scan.objects.create(user=user, action=action, bag_qr="C0000001", created_at=when)


def refuse(user: User, when: datetime, code: ScanRefusal) -> ScanReply:
    return ScanReply.objects.create(
        client_scan_id=f"{user.username}-{when.isoformat()}", user=user, status=409,
        body={"code": str(code)}, created_at=when,
    )  # fmt: skip


@pytest.fixture
def day_of_work(clock, biller):
    """DAY's work: two bills dated DAY (one finalised), one dated the day after; scans by two dispatchers
    on DAY, at its first and last second, and just outside it; an import's events (no one's scans)."""
    draft = factories.make_bill(biller, bill_number="B-DRAFT", customer="Ravi Traders", bill_date=DAY)
    for children in (30, 7):
        parent = factories.make_parent(product_code="moong")
        fill(parent, children)
        factories.put_on_bill(draft, parent)
    done = factories.make_bill(biller, bill_number="A-DONE", customer="Mehta & Sons", bill_date=DAY)
    parent = factories.make_parent()
    fill(parent, 12)
    factories.put_on_bill(done, parent)
    factories.finalise(done)
    factories.make_bill(biller, bill_number="C-NEXT", bill_date=DAY + timedelta(days=1))

    asha, bharat = factories.make_user("asha"), factories.make_user("bharat")
    for minute in range(5):
        scan(asha, at(DAY, 9, minute))
    scan(asha, at(DAY, 0, 0, 0))  # the day's first instant is the day's
    scan(bharat, at(DAY, 23, 59, 59))
    scan(bharat, at(DAY, 14), ScanAction.UNDO)
    scan(bharat, at(DAY, 0) - timedelta(microseconds=1))  # the day before
    scan(asha, at(DAY + timedelta(days=1), 0))  # the day after
    scan(biller, at(DAY, 11), ScanAction.IMPORT)
    refuse(bharat, at(DAY, 15), ScanRefusal.PARENT_FULL)
    refuse(bharat, at(DAY, 15, 1), ScanRefusal.ALREADY_IN_THIS_PARENT)  # a harmless duplicate: no refusal
    refuse(bharat, at(DAY + timedelta(days=1), 0), ScanRefusal.PARENT_FULL)  # the day after
    refuse(factories.make_user("chetan"), at(DAY, 16), ScanRefusal.PARENT_FULL)  # refused, never scanned
    return {"draft": draft, "done": done}


def test_the_figures_are_the_raw_rows_counted_over_the_local_day(day_of_work):
    made = summary.build(DAY)

    start, end = at(DAY, 0), at(DAY + timedelta(days=1), 0)
    by_user: dict[str, int] = {}
    for event in Scan.objects.select_related("user"):
        if start <= event.created_at < end and event.action != ScanAction.IMPORT:
            by_user[event.user.username] = by_user.get(event.user.username, 0) + 1
    assert by_user == {"asha": 6, "bharat": 2}
    lines = [(line.username, line.scans, line.refused) for line in made.dispatchers]
    assert lines == [("asha", 6, 0), ("bharat", 2, 1), ("chetan", 0, 1)]
    assert made.scans == 8

    assert [bill.number for bill in made.bills] == ["A-DONE", "B-DRAFT"]
    done, draft = made.bills
    assert (done.customer, done.status, done.finalised, done.parents, done.children) == (
        "Mehta & Sons", "Finalised", True, 1, 12,
    )  # fmt: skip
    assert (draft.status, draft.parents, draft.children) == ("Draft", 2, 37)
    assert (done.weight, draft.weight) == ("12", "18.5")  # 12 x 1 kg; 37 x 0.5 kg
    assert made.weight == readable_kg(Decimal("30.5"))
    assert draft.url == f"http://summary.test{reverse('bills:detail', args=[day_of_work['draft'].pk])}"


def test_the_open_exceptions_are_counted_per_rule_with_absolute_links(clock, biller):
    stale = factories.make_parent("SB77001")
    Bag.objects.filter(pk=stale.pk).update(created_at=clock.now - timedelta(hours=5))

    made = summary.build(DAY)

    assert [rule.key for rule in made.rules] == [spec.key for spec in RULES]
    totals = {rule.key: rule.total for rule in made.rules}
    assert totals["parents_open"] == 1 and made.exceptions == sum(totals.values())
    row = next(rule for rule in made.rules if rule.key == "parents_open").rows[0]
    assert (row.code, row.url) == ("SB77001", f"http://summary.test{reverse('tracking:bag', args=['SB77001'])}")
    assert made.exceptions_url == "http://summary.test/reports/exceptions/"
    assert made.rules[1].url == "http://summary.test/reports/exceptions/?rule=parents_open"


@pytest.fixture(autouse=True)
def _site(settings):
    settings.SITE_URL = "http://summary.test"


def test_each_active_biller_and_admin_with_an_address_gets_one_mail_in_two_parts(day_of_work):
    recipient("meera")
    recipient("boss", role=Role.ADMIN)
    recipient("noaddress", email="")
    User.objects.filter(pk=recipient("gone").pk).update(is_active=False)
    recipient("disp", role=Role.DISPATCHER)

    outcome = summary.send_day(DAY)

    assert (outcome.claimed, outcome.sent, outcome.failed) == (True, 2, 0)
    assert sorted(message.to[0] for message in mail.outbox) == ["boss@example.com", "meera@example.com"]
    message = mail.outbox[0]
    assert message.subject == "TraitorTrack: the summary of 19 Nov 2026"
    text = message.body
    assert "B-DRAFT · Ravi Traders · Draft · parents: 2, children: 37, weight: 18.5 kg" in text
    assert "Total: 30.5 kg" in text
    assert "- asha: 6 scans, 0 refused" in text and "- bharat: 2 scans, 1 refused" in text
    assert "http://summary.test/reports/exceptions/" in text
    assert "<td>" not in text
    (html, kind), *_ = message.alternatives
    assert kind == "text/html"
    assert '<html lang="en">' in html
    assert f"<title>{message.subject}</title>" in html
    assert '<tr data-bill="A-DONE">' in html and "Mehta &amp; Sons" in html
    assert '<th align="right" id="summary-weight">30.5</th>' in html
    assert '<tr data-dispatcher="asha"><td>asha</td><td align="right">6</td><td align="right">0</td></tr>' in html
    assert f'href="http://summary.test{reverse("bills:detail", args=[day_of_work["done"].pk])}"' in html


def test_a_hindi_reader_gets_hindi_an_english_reader_english(day_of_work):
    recipient("hindi", language="hi")
    recipient("english", language="en")
    title = next(spec.title for spec in RULES if spec.key == "parents_open")
    with translation.override("hi"):
        hindi_title = str(title)
    assert hindi_title != str(title)  # the catalog has it

    summary.send_day(DAY)

    mails = {message.to[0]: message for message in mail.outbox}
    hindi, english = mails["hindi@example.com"], mails["english@example.com"]
    assert hindi_title in hindi.body and hindi_title in hindi.alternatives[0][0]
    assert '<html lang="hi">' in hindi.alternatives[0][0]
    assert str(title) not in hindi.body
    assert str(title) in english.body and hindi_title not in english.body
    assert SummaryMail.objects.get(email="hindi@example.com").language == "hi"


def test_a_day_is_mailed_once_however_often_it_is_run(day_of_work):
    recipient("meera")
    assert summary.send_day(DAY).sent == 1
    recipient("late")  # after the day was claimed: its recipients are chosen

    again = summary.send_day(DAY)

    assert (again.claimed, again.sent, again.already_sent) == (False, 0, 1)
    assert len(mail.outbox) == 1
    assert DailySummary.objects.count() == 1
    assert SummaryMail.objects.get().sent_at == timezone.now()


def test_a_failed_send_is_tried_again_by_the_next_run(day_of_work, settings, monkeypatch):
    recipient("meera")

    def refuse(self, fail_silently=False):
        raise ConnectionRefusedError("the mail server is away")

    with monkeypatch.context() as patched:
        patched.setattr("django.core.mail.EmailMultiAlternatives.send", refuse)
        first = summary.send_day(DAY)
    row = SummaryMail.objects.get()
    assert (first.sent, first.failed, row.sent_at, row.attempts) == (0, 1, None, 1)
    assert row.last_error == "ConnectionRefusedError: the mail server is away"

    second = summary.send_day(DAY)

    row.refresh_from_db()
    assert (second.sent, row.attempts, row.sent_at is not None) == (1, 2, True)
    assert len(mail.outbox) == 1


def test_a_database_error_making_the_summary_counts_as_a_try_and_the_run_goes_on(day_of_work, monkeypatch):
    recipient("meera")
    recipient("ravi", language="hi")  # a summary of its own (Hindi), made after the English one failed

    def broken(day):
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1 / 0")  # aborts the transaction, as a statement timeout would

    with monkeypatch.context() as patched:
        patched.setattr(summary, "build", broken)
        outcome = summary.send_day(DAY)

    assert (outcome.sent, outcome.failed) == (0, 2)
    assert list(SummaryMail.objects.order_by("pk").values_list("attempts", "sent_at")) == [(1, None), (1, None)]
    assert SummaryMail.objects.first().last_error == "DataError: division by zero"
    assert summary.send_day(DAY).sent == 2  # the next run sends them


def test_a_mail_that_failed_max_attempts_times_is_left(day_of_work):
    recipient("meera")
    summary.claim(DAY)
    SummaryMail.objects.update(attempts=summary.MAX_ATTEMPTS)

    assert summary.send_day(DAY).sent == 0
    assert mail.outbox == []


def test_the_periodic_run_mails_the_local_day_before_its_tick(day_of_work):
    recipient("meera")
    # 00:05 in Kolkata is 18:35 UTC the evening before: the day over is the local one.
    tick = at(DAY + timedelta(days=1), 0, 5)
    assert tick.astimezone(LOCAL).date() == DAY + timedelta(days=1)

    outcome = summary.run_periodic(tick)

    assert (outcome.claimed, outcome.sent) == (True, 1)
    assert DailySummary.objects.get().day == DAY


def test_the_command_mails_a_day_and_says_what_it_did(day_of_work, capsys):
    recipient("meera")

    call_command("send_daily_summary", "--date", DAY.isoformat())
    call_command("send_daily_summary", "--date", DAY.isoformat())

    said = capsys.readouterr().out.splitlines()
    assert said == [
        "Summary of 2026-11-19 (made now): 1 sent, 0 sent before, 0 failed.",
        "Summary of 2026-11-19 (made before): 0 sent, 1 sent before, 0 failed.",
    ]
    assert len(mail.outbox) == 1


def test_the_command_fails_when_a_mail_fails_and_a_second_run_sends_it(day_of_work, monkeypatch):
    recipient("meera")
    with monkeypatch.context() as patched:
        patched.setattr("django.core.mail.EmailMultiAlternatives.send", lambda self, fail_silently=False: 1 / 0)
        with pytest.raises(CommandError, match="Some mails failed"):
            call_command("send_daily_summary", "--date", DAY.isoformat())
    assert mail.outbox == []

    call_command("send_daily_summary", "--date", DAY.isoformat())

    assert len(mail.outbox) == 1


@pytest.mark.parametrize(
    ("given", "said"),
    [
        ("19-11-2026", "--date must be a date as YYYY-MM-DD"),
        ("20261119", "--date must be a date as YYYY-MM-DD"),
        ("2026-02-30", "--date must be a date as YYYY-MM-DD"),
        ("2026-11-20", "2026-11-20 is not over yet (today is 2026-11-20 here)"),
        ("2027-01-01", "2027-01-01 is not over yet"),
    ],
)
def test_the_command_refuses_a_bad_or_unfinished_date(clock, given, said):
    with pytest.raises(CommandError, match=said.replace("(", r"\(").replace(")", r"\)")):
        call_command("send_daily_summary", "--date", given)
    assert DailySummary.objects.count() == 0


def test_the_preview_shows_the_mail_in_the_viewers_language(day_of_work, biller_client, biller):
    answer = biller_client.get(PAGE, {"date": DAY.isoformat()})

    assert answer.status_code == 200
    page = answer.content.decode()
    assert '<tr data-bill="B-DRAFT">' in page
    assert '<tr data-dispatcher="bharat"><td>bharat</td><td align="right">2</td><td align="right">1</td></tr>' in page
    assert "Not mailed yet." in page

    biller.language = "hi"
    biller.save(update_fields=["language"])
    title = next(spec.title for spec in RULES if spec.key == "parents_open")
    with translation.override("hi"):
        hindi_title = str(title)
    assert hindi_title in biller_client.get(PAGE, {"date": DAY.isoformat()}).content.decode()


def test_the_preview_says_how_many_mails_went(day_of_work, biller_client):
    recipient("meera")
    summary.send_day(DAY)

    page = biller_client.get(PAGE, {"date": DAY.isoformat()}).content.decode()

    assert "Mailed to 1 of 1 recipient." in page


def test_the_preview_of_a_bad_date_is_a_400_showing_yesterday(day_of_work, biller_client):
    answer = biller_client.get(PAGE, {"date": "yesterday"})

    assert answer.status_code == 400
    page = answer.content.decode()
    assert 'id="summary-form-error"' in page
    assert '<tr data-bill="B-DRAFT">' in page  # DAY is yesterday on the frozen clock


def test_an_admin_sees_the_preview_a_dispatcher_does_not(clock, admin_client):
    assert admin_client.get(PAGE).status_code == 200
    dispatcher = Client()
    dispatcher.force_login(factories.make_user())
    assert dispatcher.get(PAGE).status_code == 403
    assert reverse("reports:summary") == PAGE


def test_the_exceptions_page_links_to_the_preview(clock, biller_client):
    assert f'href="{PAGE}"' in biller_client.get(reverse("reports:exceptions")).content.decode()


def test_a_run_that_died_after_claiming_leaves_the_mails_to_the_next_run(day_of_work):
    recipient("meera")
    assert summary.claim(DAY)  # ... and the worker died here, before sending
    assert mail.outbox == [] and SummaryMail.objects.get().sent_at is None

    outcome = summary.run_periodic(at(DAY + timedelta(days=1), 0, 20))

    assert (outcome.claimed, outcome.sent) == (False, 1)
    assert [message.to for message in mail.outbox] == [["meera@example.com"]]


def test_the_periodic_job_is_registered_every_15_minutes_with_a_queueing_lock():
    periodic = {task.periodic_id: task for task in app.periodic_registry.periodic_tasks.values()}[TASK]
    assert periodic.cron == "5,20,35,50 * * * *"
    assert (send_daily_summary.queueing_lock, send_daily_summary.queue) == (TASK, "reports")
