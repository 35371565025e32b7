"""The audit log admin: filter by action, search by actor username, object id and request id."""

import pytest
from django.test import RequestFactory
from django.urls import reverse

from audit.services import record
from tests import factories


@pytest.fixture
def entries(admin_user):
    bag = factories.make_parent("SB00077")
    ravi = factories.make_user("ravi-dispatch")
    return {
        "bag": record(actor=admin_user, action="bag.change", obj=bag, before={}, after={}),
        "login": record(actor=ravi, action="login.success", obj=ravi),
        "failure": record(
            actor=None,
            action="login.failure",
            after={"username": "ravi-dispatch"},
            request=RequestFactory().post("/", HTTP_X_REQUEST_ID="req-abc-123"),
        ),
    }


def _listed(admin_client, **params):
    response = admin_client.get(reverse("admin:audit_auditlog_changelist"), params)
    assert response.status_code == 200
    return response, {entry.pk for entry in response.context["cl"].result_list}


def test_the_action_filter_offers_each_action_once(admin_client, entries):
    response, _ = _listed(admin_client)

    action_filter = next(spec for spec in response.context["cl"].filter_specs if spec.title == "action")
    # Logging the admin in is itself audited, so login.success is among the actions.
    assert [value for value, _label in action_filter.lookup_choices] == ["bag.change", "login.failure", "login.success"]


def test_the_log_filters_by_action(admin_client, entries):
    _, listed = _listed(admin_client, action="login.failure")

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
