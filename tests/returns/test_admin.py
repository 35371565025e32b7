"""The return ticket admin: searched by number, source or a parent's code; a draft's source corrected
(audited); a committed ticket view only and never deleted."""

import pytest
from django.urls import reverse

from audit.choices import AuditAction
from audit.models import AuditLog
from returns import services
from returns.models import ReturnTicket
from tests.returns.conftest import scan

pytestmark = pytest.mark.django_db


def test_the_list_finds_a_ticket_by_a_parents_code(admin_client, biller, dispatched, ticket):
    scan(biller, ticket, "SB00001")

    page = admin_client.get(reverse("admin:returns_returnticket_changelist"), {"q": "SB00001"}).content.decode()

    assert ticket.number in page


def test_a_drafts_source_is_corrected_and_audited(admin_client, ticket):
    url = reverse("admin:returns_returnticket_change", args=[ticket.pk])

    answer = admin_client.post(
        url, {"source": "Kota depot", "notes": "", "entries-TOTAL_FORMS": "0", "entries-INITIAL_FORMS": "0"}
    )

    assert answer.status_code == 302
    assert ReturnTicket.objects.get().source == "Kota depot"
    entry = AuditLog.objects.get(action=AuditAction.RETURNTICKET_CHANGE)
    assert (entry.before["source"], entry.after["source"]) == ("Jaipur mandi", "Kota depot")


def test_a_committed_ticket_is_view_only_and_not_deleted(admin_client, biller, dispatched, ticket):
    scan(biller, ticket, "SB00001")
    services.commit_ticket(user=biller, ticket_id=ticket.pk)

    page = admin_client.get(reverse("admin:returns_returnticket_change", args=[ticket.pk])).content.decode()

    assert 'name="source"' not in page  # read only
    assert admin_client.get(reverse("admin:returns_returnticket_delete", args=[ticket.pk])).status_code == 403
    assert admin_client.get(reverse("admin:returns_returnticket_add")).status_code == 403
