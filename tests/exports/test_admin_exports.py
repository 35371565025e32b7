"""The admin's exports: the big tables' plain export view (bags, links, scans, audit log) and
django-import-export's for the small ones (products, areas, users, bills), every one formula-escaped,
audited and for admins only."""

import csv
import io
import re

import pytest
from django.urls import reverse

from audit.choices import AuditAction
from audit.models import AuditLog
from tests import factories

pytestmark = pytest.mark.django_db


def _csv(response) -> list[list[str]]:
    body = b"".join(response.streaming_content) if response.streaming else response.content
    return list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))


def _export_fields(page: str) -> dict[str, str]:
    """The export page's form as django-import-export renders it: every field ticked, CSV chosen."""
    ticked = dict.fromkeys(re.findall(r'<input type="checkbox" name="([^"]+)"', page), "on")
    return {**ticked, "format": "0", "resource": "0"}


@pytest.mark.parametrize(
    ("url_name", "table", "made", "first_cell"),
    [
        ("admin:bills_bill_export", "bills", "bill", "bill_number"),
        ("admin:bags_product_export", "products", "product", "code"),
        ("admin:accounts_dispatcharea_export", "areas", "area", "name"),
        ("admin:accounts_user_export", "users", "user", "username"),
    ],
)
def test_the_small_tables_export_through_import_export_escaped_and_audited(
    admin_client, admin_user, url_name, table, made, first_cell
):
    if made == "bill":
        factories.make_bill(admin_user, customer="=HYPERLINK(1)")
    elif made == "product":
        factories.product("mustard")
    elif made == "area":
        factories.make_area("=cmd|calc")
    page = admin_client.get(reverse(url_name)).content.decode()

    rows = _csv(admin_client.post(reverse(url_name), _export_fields(page)))

    assert rows[0][0] == first_cell
    assert "password" not in rows[0]
    assert not any(cell.startswith("=") for row in rows[1:] for cell in row)  # formulas escaped
    entry = AuditLog.objects.get(action=AuditAction.TABLE_EXPORT)
    assert entry.actor == admin_user and entry.after["format"] == "csv" and entry.after["table"] == table


def test_the_scans_admin_has_the_export_button_and_it_streams(admin_client):
    parent = factories.make_parent("SB00001")
    factories.link(parent, factories.make_child("CH000001"))

    listing = admin_client.get(reverse("admin:scanning_scan_changelist")).content.decode()
    assert reverse("admin:scanning_scan_export") in listing

    rows = _csv(admin_client.post(reverse("admin:scanning_scan_export"), {"format": "0"}))
    assert rows[0][:3] == ["at", "action", "bag"]
    entry = AuditLog.objects.get(action=AuditAction.TABLE_EXPORT)
    assert entry.after["format"] == "csv" and entry.after["table"] == "scans"


def test_a_filter_the_list_does_not_know_is_refused_with_a_message(admin_client):
    response = admin_client.post(reverse("admin:bags_bag_export") + "?no_such_field=1", {"format": "0"}, follow=True)

    assert response.status_code == 200
    assert "These filters do not apply to this list" in response.content.decode()
    assert not AuditLog.objects.filter(action=AuditAction.TABLE_EXPORT).exists()


def test_an_unknown_format_is_refused_on_the_page(admin_client):
    response = admin_client.post(reverse("admin:bags_link_export"), {"format": "9"})

    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()
    assert not AuditLog.objects.filter(action=AuditAction.TABLE_EXPORT).exists()


def test_the_export_page_names_the_columns_and_the_filters(admin_client):
    page = admin_client.get(reverse("admin:bags_bag_export") + "?kind__exact=child&p=3").content.decode()

    assert "code, kind, product, area, children" in page
    assert "<code>kind__exact=child</code>" in page
