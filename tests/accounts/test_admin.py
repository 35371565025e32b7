"""The user and dispatch area admins: role rules in words, every change audited, no password hash logged."""

import re
from datetime import datetime

import pytest
from django.contrib import admin
from django.urls import reverse
from django.utils import formats

from accounts.models import DispatchArea, Role, User
from audit.choices import AuditAction
from audit.models import AuditLog
from scanning.models import Scan, ScanAction
from tests import factories
from tests.clock import LOCAL

NEW_PASSWORD = "a-long-enough-passphrase-42"


def _change_data(user: User, **changes) -> dict:
    data = {
        "username": user.username,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "email": user.email,
        "role": user.role,
        "dispatch_area": user.dispatch_area_id or "",
        "is_active": "on",
    }
    data.update(changes)
    return {key: value for key, value in data.items() if value is not None}


def test_admin_site_is_titled_traitortrack_admin(admin_client):
    response = admin_client.get(reverse("admin:index"))

    assert response.status_code == 200
    assert "TraitorTrack admin" in response.content.decode()


def test_django_groups_are_not_offered(admin_client):
    response = admin_client.get("/admin/auth/group/")

    assert response.status_code == 404


def test_adding_a_dispatcher_saves_role_and_area_and_audits_without_the_password(admin_client, area):
    response = admin_client.post(
        reverse("admin:accounts_user_add"),
        {
            "username": "ravi",
            "email": "ravi@example.com",
            "usable_password": "true",
            "password1": NEW_PASSWORD,
            "password2": NEW_PASSWORD,
            "role": Role.DISPATCHER,
            "dispatch_area": area.pk,
        },
    )

    assert response.status_code == 302
    ravi = User.objects.get(username="ravi")
    assert (ravi.role, ravi.dispatch_area) == (Role.DISPATCHER, area)
    entry = AuditLog.objects.get(action=AuditAction.USER_CREATE)
    assert entry.object_id == str(ravi.pk)
    assert entry.actor_username == "admin1"
    assert "password" not in entry.after
    assert entry.after["role"] == Role.DISPATCHER


def test_a_dispatcher_without_an_area_is_refused_in_words(admin_client):
    response = admin_client.post(
        reverse("admin:accounts_user_add"),
        {
            "username": "nowhere",
            "usable_password": "true",
            "password1": NEW_PASSWORD,
            "password2": NEW_PASSWORD,
            "role": Role.DISPATCHER,
        },
    )

    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert errors["dispatch_area"] == ["A dispatcher works in one dispatch area: choose it."]
    assert not User.objects.filter(username="nowhere").exists()


def test_the_role_decides_django_admin_access(admin_client):
    biller = factories.make_user("meena", role=Role.BILLER)
    change_url = reverse("admin:accounts_user_change", args=[biller.pk])

    # A tick box cannot give a biller staff status: the flags are not on the form.
    response = admin_client.post(change_url, _change_data(biller, is_staff="on", is_superuser="on"))
    assert response.status_code == 302
    biller.refresh_from_db()
    assert (biller.is_staff, biller.is_superuser) == (False, False)

    response = admin_client.post(change_url, _change_data(biller, role=Role.ADMIN))
    assert response.status_code == 302
    biller.refresh_from_db()
    assert (biller.role, biller.is_staff, biller.is_superuser) == (Role.ADMIN, True, True)

    response = admin_client.post(change_url, _change_data(biller, role=Role.BILLER))
    assert response.status_code == 302
    biller.refresh_from_db()
    assert (biller.role, biller.is_staff, biller.is_superuser) == (Role.BILLER, False, False)


def test_a_role_change_is_audited_by_name_with_before_and_after(admin_client):
    dispatcher = factories.make_user("suresh")

    response = admin_client.post(
        reverse("admin:accounts_user_change", args=[dispatcher.pk]), _change_data(dispatcher, role=Role.BILLER)
    )

    assert response.status_code == 302
    entry = AuditLog.objects.get(action=AuditAction.USER_ROLE_CHANGE)
    assert (entry.before["role"], entry.after["role"]) == (Role.DISPATCHER, Role.BILLER)
    assert "password" not in entry.before
    assert "password" not in entry.after


def test_saving_an_unchanged_user_writes_no_audit_entry(admin_client):
    dispatcher = factories.make_user("unchanged")

    response = admin_client.post(reverse("admin:accounts_user_change", args=[dispatcher.pk]), _change_data(dispatcher))

    assert response.status_code == 302
    assert not AuditLog.objects.exclude(action=AuditAction.USER_LOGIN).exists()  # admin_client's own login is audited


def test_a_password_change_in_the_admin_is_audited_without_the_hash(admin_client):
    dispatcher = factories.make_user("kiran")

    response = admin_client.post(
        reverse("admin:auth_user_password_change", args=[dispatcher.pk]),
        {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD, "usable_password": "true"},
    )

    assert response.status_code == 302
    dispatcher.refresh_from_db()
    assert dispatcher.check_password(NEW_PASSWORD)
    entry = AuditLog.objects.get(action=AuditAction.USER_PASSWORD_CHANGE)
    assert entry.object_id == str(dispatcher.pk)
    assert entry.before is None
    assert entry.after is None


def test_a_user_with_scans_cannot_be_deleted(admin_client):
    dispatcher = factories.make_user("has-scans")
    Scan.objects.create(user=dispatcher, action=ScanAction.LINK, bag_qr="C0000001", parent_qr="SB00001")

    response = admin_client.post(reverse("admin:accounts_user_delete", args=[dispatcher.pk]), {"post": "yes"})

    assert response.status_code == 200
    assert response.context["protected"] == ["Scan: Linked child C0000001"]
    assert User.objects.filter(pk=dispatcher.pk).exists()
    assert not AuditLog.objects.exclude(action=AuditAction.USER_LOGIN).exists()  # admin_client's own login is audited


def test_deleting_a_user_is_audited_with_a_before_snapshot(admin_client):
    biller = factories.make_user("leaving", role=Role.BILLER)

    response = admin_client.post(reverse("admin:accounts_user_delete", args=[biller.pk]), {"post": "yes"})

    assert response.status_code == 302
    entry = AuditLog.objects.get(action=AuditAction.USER_DELETE)
    assert entry.before["username"] == "leaving"
    assert "password" not in entry.before


def test_an_area_with_users_cannot_be_deleted(admin_client, area):
    factories.make_user("in-area", area=area)

    response = admin_client.post(reverse("admin:accounts_dispatcharea_delete", args=[area.pk]), {"post": "yes"})

    assert response.context["protected"] == ["User: in-area"]
    assert DispatchArea.objects.filter(pk=area.pk).exists()


def test_adding_an_area_is_audited(admin_client):
    response = admin_client.post(
        reverse("admin:accounts_dispatcharea_add"), {"name": "Loading zone B", "code": "zone-b", "is_active": "on"}
    )

    assert response.status_code == 302
    entry = AuditLog.objects.get(action=AuditAction.DISPATCHAREA_CREATE)
    assert entry.object_type == "accounts.dispatcharea"
    assert entry.after["code"] == "zone-b"


def test_user_list_filters_by_role(admin_client):
    factories.make_user("billy", role=Role.BILLER)
    factories.make_user("dina")

    response = admin_client.get(reverse("admin:accounts_user_changelist"), {"role__exact": Role.BILLER})

    assert [user.username for user in response.context["cl"].result_list] == ["billy"]


def _index_sections(html: str) -> list[tuple[str, list[str]]]:
    """The admin index's sections as shown: each caption with its models' names, in order."""
    sections = []
    for table in re.findall(r"<table>.*?</table>", html.split('id="content-main"')[1], re.S):
        caption = re.search(r"<caption>\s*<a[^>]*>([^<]*)</a>", table).group(1)
        sections.append((caption, re.findall(r'<th scope="row"[^>]*>\s*<a[^>]*>([^<]*)</a>', table)))
    return sections


def test_the_admin_index_groups_and_names_the_tables_for_an_admin(admin_client):
    html = admin_client.get(reverse("admin:index")).content.decode()

    assert _index_sections(html) == [
        ("Bags and scans", ["Bags", "Products", "Children in parents", "Scans", "Scan answers (for replays)"]),
        ("Bills", ["Bills", "Parents on bills"]),
        ("Returns", ["Return tickets"]),
        ("Reports", ["Exception thresholds"]),
        ("Labels and printers", ["Label batches", "Label printers"]),
        ("Imports", ["Import jobs", "Background jobs (the import queue)"]),
        ("Users and access", ["Users", "Dispatch areas", "Promotion requests", "Login lockouts"]),
        ("Audit log", ["Audit log"]),
    ]
    for internal in ("Scan replys", "Access attempts", "Axes", "Bill bags", "Procrastinate"):
        assert internal not in html


def test_every_registered_table_has_its_place_in_the_admin_index():
    placed = {label for _title, labels in admin.site.sections for label in labels}

    assert {model._meta.label for model in admin.site._registry} == placed


def test_lockouts_are_listed_with_the_users_under_their_own_name(admin_client):
    factories.make_lockout("locked-out-user")

    response = admin_client.get(reverse("admin:accounts_loginlockout_changelist"))

    assert response.status_code == 200
    html = response.content.decode()
    assert "locked-out-user" in html and "Select login lockout to change" in html
    assert "Users and access" in html  # the breadcrumb


@pytest.mark.parametrize("clock", [datetime(2026, 12, 4, 14, 5, tzinfo=LOCAL)], indirect=True)
def test_admin_lists_and_change_pages_show_times_in_the_apps_format(admin_client, clock):
    area = factories.make_area("Godown Format")
    parent = factories.make_parent("SB44444", dispatch_area=area)

    listing = admin_client.get(reverse("admin:accounts_dispatcharea_changelist")).content.decode()
    change = admin_client.get(reverse("admin:bags_bag_change", args=[parent.pk])).content.decode()

    # The pages' own format (DATETIME_FORMAT, traitortrack/formats): day first, 24-hour clock, local time.
    assert formats.date_format(clock.now, "DATETIME_FORMAT") == "4 Dec 2026, 14:05"
    assert '<td class="field-created_at nowrap">4 Dec 2026, 14:05</td>' in listing
    assert "4 Dec 2026, 14:05" in change
    for other in ("Dec. 4", "2:05 p.m.", "2026-12-04 14:05"):
        assert other not in listing + change
