"""The exceptions page (/reports/exceptions/), the navbar's count and the thresholds' admin."""

from datetime import timedelta

import pytest
from django.core.cache import cache
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from bags.models import Bag
from reports.exceptions import COUNT_CACHE_KEY
from reports.models import ExceptionThresholds
from tests import factories

pytestmark = pytest.mark.django_db

PAGE = "/reports/exceptions/"
THRESHOLDS_FORM = {
    "open_parent_hours": 4,
    "unbilled_parent_hours": 24,
    "draft_bill_days": 2,
    "draft_return_hours": 24,
    "refusal_factor": "3.0",
    "refusal_min_scans": 30,
    "refusal_floor_percent": 2,
}


@pytest.fixture
def stale_parent(clock):
    """A parent opened 5 hours ago, holding nothing: open too long at the default 4 hours."""
    parent = factories.make_parent("SB70001")
    Bag.objects.filter(pk=parent.pk).update(created_at=clock.now - timedelta(hours=5))
    return parent


def test_the_url_is_the_reports_apps():
    assert reverse("reports:exceptions") == PAGE


def test_a_biller_sees_each_problem_linking_to_the_page_that_fixes_it(biller_client, stale_parent):
    answer = biller_client.get(PAGE)
    assert answer.status_code == 200
    page = answer.content.decode()
    assert f'href="{reverse("tracking:bag", args=["SB70001"])}"' in page
    assert 'id="rule-parents_open" data-total="1"' in page


def test_an_admin_sees_the_page(admin_client, stale_parent):
    assert admin_client.get(PAGE).status_code == 200


def test_a_dispatcher_is_refused_as_on_every_biller_page(client):
    client.force_login(factories.make_user())
    assert client.get(PAGE).status_code == 403
    assert client.get(reverse("bills:list")).status_code == 403


def test_anyone_logged_out_is_sent_to_log_in(client):
    assert client.get(PAGE).status_code == 302


@pytest.mark.parametrize(
    "query", ["?rule=nonsense", "?rule=parents_open&rule=%00", "?rule=" + "x" * 5000, "?page=-1&sort=%27", "?rule=%ff"]
)
def test_bad_query_parameters_are_never_a_500(biller_client, stale_parent, query):
    answer = biller_client.get(PAGE + query)
    assert answer.status_code in (200, 400)
    assert "SB70001" in answer.content.decode()


def test_one_rule_shows_only_its_own(biller_client, stale_parent):
    page = biller_client.get(PAGE + "?rule=draft_bills").content.decode()
    assert 'id="rule-draft_bills"' in page and 'id="rule-parents_open"' not in page


def test_thresholds_changed_in_the_admin_change_the_list(admin_user, verified_login, biller_client, stale_parent):
    admin_client = verified_login(Client(), admin_user)  # biller_client is the one ``client``
    assert 'data-total="1"' in biller_client.get(PAGE + "?rule=parents_open").content.decode()
    change = reverse("admin:reports_exceptionthresholds_change", args=[1])
    assert admin_client.post(change, {**THRESHOLDS_FORM, "open_parent_hours": 6}).status_code == 302
    assert ExceptionThresholds.current().open_parent_hours == 6
    assert 'data-total="0"' in biller_client.get(PAGE + "?rule=parents_open").content.decode()


def test_the_admin_refuses_a_threshold_out_of_range_and_has_no_add_or_delete(admin_client):
    change = reverse("admin:reports_exceptionthresholds_change", args=[1])
    assert change in admin_client.get(reverse("admin:reports_exceptionthresholds_changelist")).content.decode()
    assert admin_client.get(change).status_code == 200
    answer = admin_client.post(change, {**THRESHOLDS_FORM, "open_parent_hours": 0})
    assert answer.status_code == 200 and ExceptionThresholds.current().open_parent_hours == 4  # shown again
    assert admin_client.get(reverse("admin:reports_exceptionthresholds_add")).status_code == 403
    assert admin_client.get(reverse("admin:reports_exceptionthresholds_delete", args=[1])).status_code == 403


# The navbar's count


def test_billers_see_the_count_in_the_navbar(biller_client, stale_parent):
    page = biller_client.get(reverse("home")).content.decode()
    assert 'id="nav-exceptions"' in page
    assert '<span class="badge text-bg-warning tt-nav-badge">1<span class="visually-hidden"> open</span></span>' in page


def test_dispatchers_see_no_count(client, stale_parent):
    client.force_login(factories.make_user())
    assert 'id="nav-exceptions"' not in client.get(reverse("home")).content.decode()


def test_the_count_is_kept_a_minute_in_the_cache(redis_cache, biller_client, stale_parent, clock):
    biller_client.get(reverse("home"))
    assert redis_cache.get(COUNT_CACHE_KEY) == 1
    factories.make_parent("SB70002")  # a new problem waits for the cached count to expire
    Bag.objects.filter(qr_id="SB70002").update(created_at=clock.now - timedelta(hours=5))
    assert ">1<" in biller_client.get(reverse("home")).content.decode()
    redis_cache.delete(COUNT_CACHE_KEY)
    assert ">2<" in biller_client.get(reverse("home")).content.decode()


def test_with_redis_down_pages_show_the_count_all_the_same(dead_redis_cache, biller_client, stale_parent):
    answer = biller_client.get(reverse("home"))
    assert answer.status_code == 200
    assert '<span class="badge text-bg-warning tt-nav-badge">1<' in answer.content.decode()
    assert biller_client.get(PAGE).status_code == 200


def test_the_page_gives_the_navbar_its_totals_instead_of_counting_again(biller_client, stale_parent):
    with CaptureQueriesContext(connection) as queries:
        page = biller_client.get(PAGE).content.decode()
    # Every list is under its 200 shown rows: nothing needed counting, not even for the navbar.
    assert not any("COUNT(*)" in query["sql"] and "bags_bag" in query["sql"] for query in queries.captured_queries)
    assert '<span class="badge text-bg-warning tt-nav-badge">1<' in page
    assert cache.get(COUNT_CACHE_KEY) == 1
