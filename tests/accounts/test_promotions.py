"""Promotion requests (a user asks for a higher role, an admin decides) and the in-app notifications."""

import re

import pytest
from django.db import IntegrityError, transaction
from django.urls import reverse

from accounts import services
from accounts.models import Notification, PromotionRequest, PromotionStatus, Role
from accounts.services import PromotionRefused
from audit.choices import AuditAction
from audit.models import AuditLog
from tests import factories

PROMOTION_URL = reverse("accounts:promotion")
NOTIFICATIONS_URL = reverse("accounts:notifications")


@pytest.fixture(autouse=True)
def _fresh_cache():
    # The unread counts live in the cache, which outlives each test's rolled-back database.
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def dispatcher(db):
    return factories.make_user("ravi")


@pytest.fixture
def biller(db):
    return factories.make_user("meena", role=Role.BILLER)


def ask(user, to_role=Role.BILLER, reason="I run the billing desk on Saturdays."):
    return services.request_promotion(user=user, to_role=to_role, reason=reason)


def test_a_request_is_pending_and_audited(dispatcher):
    promotion = ask(dispatcher)

    assert (promotion.status, promotion.from_role, promotion.to_role) == (
        PromotionStatus.PENDING,
        Role.DISPATCHER,
        Role.BILLER,
    )
    entry = AuditLog.objects.get(action=AuditAction.PROMOTION_REQUEST)
    assert entry.actor == dispatcher and entry.after["to_role"] == Role.BILLER


def test_a_second_pending_request_is_refused(dispatcher):
    ask(dispatcher)

    with pytest.raises(PromotionRefused) as refused:
        ask(dispatcher, to_role=Role.ADMIN)

    assert refused.value.code == "already_pending"
    assert PromotionRequest.objects.filter(user=dispatcher).count() == 1


def test_the_database_holds_one_pending_request_per_user(dispatcher):
    ask(dispatcher)

    with pytest.raises(IntegrityError), transaction.atomic():
        PromotionRequest.objects.create(user=dispatcher, from_role=Role.DISPATCHER, to_role=Role.ADMIN, reason="x")


def test_the_database_refuses_a_request_for_a_lower_role(biller):
    with pytest.raises(IntegrityError), transaction.atomic():
        PromotionRequest.objects.create(user=biller, from_role=Role.BILLER, to_role=Role.DISPATCHER, reason="x")


def test_asking_for_ones_own_or_a_lower_role_is_refused(biller):
    with pytest.raises(PromotionRefused) as refused:
        ask(biller, to_role=Role.BILLER)

    assert refused.value.code == "not_a_promotion"


def test_approval_makes_the_dispatcher_a_biller_keeping_the_area_notified_and_audited(dispatcher, admin_user):
    area = dispatcher.dispatch_area
    promotion = ask(dispatcher)

    services.decide_promotion(promotion=promotion, admin=admin_user, approve=True, note="Welcome aboard")

    dispatcher.refresh_from_db()
    assert (dispatcher.role, dispatcher.dispatch_area, dispatcher.is_staff) == (Role.BILLER, area, False)
    promotion.refresh_from_db()
    assert (promotion.status, promotion.decided_by) == (PromotionStatus.APPROVED, admin_user)
    assert promotion.decided_at is not None
    notification = Notification.objects.get(user=dispatcher)
    assert "approved" in notification.message and "Welcome aboard" in notification.message
    assert notification.read_at is None
    decision = AuditLog.objects.get(action=AuditAction.PROMOTION_APPROVE)
    assert (decision.before["status"], decision.after["status"]) == ("pending", "approved")
    role_change = AuditLog.objects.get(action=AuditAction.USER_ROLE_CHANGE)
    assert (role_change.actor, role_change.before["role"], role_change.after["role"]) == (
        admin_user,
        Role.DISPATCHER,
        Role.BILLER,
    )
    assert "password" not in role_change.before


def test_rejection_keeps_the_role_and_notifies(dispatcher, admin_user):
    promotion = ask(dispatcher)

    services.decide_promotion(promotion=promotion, admin=admin_user, approve=False)

    dispatcher.refresh_from_db()
    assert dispatcher.role == Role.DISPATCHER
    assert PromotionRequest.objects.get().status == PromotionStatus.REJECTED
    assert "rejected" in Notification.objects.get(user=dispatcher).message
    assert AuditLog.objects.filter(action=AuditAction.PROMOTION_REJECT).count() == 1
    assert not AuditLog.objects.filter(action=AuditAction.USER_ROLE_CHANGE).exists()


def test_a_non_admin_cannot_decide(dispatcher, biller):
    promotion = ask(dispatcher)

    with pytest.raises(PromotionRefused) as refused:
        services.decide_promotion(promotion=promotion, admin=biller, approve=True)

    assert (refused.value.code, refused.value.status) == ("admin_only", 403)
    assert PromotionRequest.objects.get().status == PromotionStatus.PENDING


def test_a_decided_request_cannot_be_decided_again(dispatcher, admin_user):
    promotion = ask(dispatcher)
    services.decide_promotion(promotion=promotion, admin=admin_user, approve=False)

    with pytest.raises(PromotionRefused) as refused:
        services.decide_promotion(promotion=promotion, admin=admin_user, approve=True)

    assert refused.value.code == "already_decided"


def test_promotion_to_admin_makes_staff_and_superuser(dispatcher, admin_user):
    promotion = ask(dispatcher, to_role=Role.ADMIN)

    services.decide_promotion(promotion=promotion, admin=admin_user, approve=True)

    dispatcher.refresh_from_db()
    assert (dispatcher.role, dispatcher.is_staff, dispatcher.is_superuser) == (Role.ADMIN, True, True)


def test_the_page_sends_a_request_and_then_shows_it_pending(client, dispatcher):
    client.force_login(dispatcher)

    response = client.post(PROMOTION_URL, {"to_role": Role.BILLER, "reason": "Covering for Meena"}, follow=True)

    assert response.status_code == 200
    html = response.content.decode()
    assert "Pending" in html and "Covering for Meena" in html
    assert 'name="reason"' not in html, "no second request while one waits"
    assert PromotionRequest.objects.get(user=dispatcher).status == PromotionStatus.PENDING


def test_the_page_offers_only_higher_roles(client, biller):
    client.force_login(biller)

    html = client.get(PROMOTION_URL).content.decode()

    assert re.findall(r'<option value="(\w+)"', html) == [Role.ADMIN]


def test_a_page_request_without_a_reason_is_refused(client, dispatcher):
    client.force_login(dispatcher)

    response = client.post(PROMOTION_URL, {"to_role": Role.BILLER, "reason": "  "})

    assert response.status_code == 422
    assert not PromotionRequest.objects.exists()


def test_the_notifications_page_lists_and_marks_read(client, dispatcher):
    services.notify(user=dispatcher, message="Your request to become a biller was approved.")
    client.force_login(dispatcher)

    response = client.get(NOTIFICATIONS_URL)

    assert response.status_code == 200
    html = response.content.decode()
    assert "was approved" in html and "New" in html
    assert not Notification.objects.filter(user=dispatcher, read_at__isnull=True).exists()
    assert "New</span>" not in client.get(NOTIFICATIONS_URL).content.decode()


def navbar_badge(html: str) -> str | None:
    link = re.search(r'<a [^>]*id="nav-notifications"[^>]*>(.*?)</a>', html, flags=re.S).group(1)
    badge = re.search(r'<span class="badge[^"]*">(\d+)', link)
    return badge.group(1) if badge else None


def test_the_navbar_shows_the_unread_count_and_drops_it_once_read(client, dispatcher):
    client.force_login(dispatcher)
    assert navbar_badge(client.get(reverse("home")).content.decode()) is None

    services.notify(user=dispatcher, message="One")
    services.notify(user=dispatcher, message="Two")
    assert navbar_badge(client.get(reverse("home")).content.decode()) == "2"

    client.get(NOTIFICATIONS_URL)
    assert navbar_badge(client.get(reverse("home")).content.decode()) is None


def test_a_warm_page_pays_no_query_for_the_count(client, dispatcher, django_assert_num_queries):
    services.notify(user=dispatcher, message="One")
    client.force_login(dispatcher)
    client.get(reverse("home"))  # fills the cached count

    with django_assert_num_queries(1):  # the home page's area; none for the user (kept) or the count
        html = client.get(reverse("home")).content.decode()

    assert navbar_badge(html) == "1"


def test_admin_actions_approve_and_reject_through_the_service(admin_client, admin_user, dispatcher, biller):
    to_approve, to_reject = ask(dispatcher), ask(biller, to_role=Role.ADMIN)
    changelist = reverse("admin:accounts_promotionrequest_changelist")

    admin_client.post(changelist, {"action": "approve", "_selected_action": [to_approve.pk]})
    admin_client.post(changelist, {"action": "reject", "_selected_action": [to_reject.pk]})

    dispatcher.refresh_from_db()
    biller.refresh_from_db()
    assert (dispatcher.role, biller.role) == (Role.BILLER, Role.BILLER)
    assert AuditLog.objects.filter(action=AuditAction.PROMOTION_APPROVE, actor=admin_user).count() == 1
    assert AuditLog.objects.filter(action=AuditAction.PROMOTION_REJECT, actor=admin_user).count() == 1
    assert Notification.objects.filter(user__in=[dispatcher, biller]).count() == 2


def test_the_admin_list_filters_by_status(admin_client, dispatcher):
    ask(dispatcher)

    response = admin_client.get(reverse("admin:accounts_promotionrequest_changelist"), {"status__exact": "pending"})

    assert response.status_code == 200
    assert "ravi" in response.content.decode()
