"""The audit log admin: filter by action, search by actor username, object id and request id."""

import pytest
from django.test import RequestFactory
from django.urls import reverse

from audit.choices import AuditAction
from audit.services import record
from tests import factories


@pytest.fixture
def entries(admin_user):
    bag = factories.make_parent("SB00077")
    ravi = factories.make_user("ravi-dispatch")
    return {
        "bag": record(actor=admin_user, action=AuditAction.BAG_CHANGE, obj=bag, before={}, after={}),
        "login": record(actor=ravi, action=AuditAction.USER_LOGIN, obj=ravi),
        "failure": record(
            actor=None,
            action=AuditAction.USER_LOGIN_FAILURE,
            after={"username": "ravi-dispatch"},
            request=RequestFactory().post("/", HTTP_X_REQUEST_ID="req-abc-123"),
        ),
    }


def _listed(admin_client, **params):
    response = admin_client.get(reverse("admin:audit_auditlog_changelist"), params)
    assert response.status_code == 200
    return response, {entry.pk for entry in response.context["cl"].result_list}


def test_the_action_filter_offers_every_audit_action_by_name(admin_client, entries):
    response, _ = _listed(admin_client)

    action_filter = next(spec for spec in response.context["cl"].filter_specs if spec.title == "action")
    assert action_filter.lookup_choices == AuditAction.choices


def test_the_log_filters_by_action(admin_client, entries):
    _, listed = _listed(admin_client, action=AuditAction.USER_LOGIN_FAILURE)

    assert listed == {entries["failure"].pk}


def test_the_log_finds_an_actor_by_username(admin_client, entries):
    _, listed = _listed(admin_client, q="ravi-dis")

    assert listed == {entries["login"].pk}


def test_the_log_finds_an_object_by_its_id(admin_client, entries):
    _, listed = _listed(admin_client, q=entries["bag"].object_id)

    assert entries["bag"].pk in listed


def test_the_log_finds_a_request_by_its_id(admin_client, entries):
    _, listed = _listed(admin_client, q="req-abc-123")

    assert listed == {entries["failure"].pk}
