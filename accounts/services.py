"""Account changes made in the app: promotion requests, their decision, and the in-app notifications.

Every change here is audited (audit.services.record). The unread-notification count shown in the navbar
is kept in the cache and dropped whenever it changes, so a page costs no query for it once it is warm.
"""

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.core.cache import cache
from django.db import transaction
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext

from accounts.error_codes import PromotionRefusal
from accounts.models import ROLE_RANK, Notification, PromotionRequest, PromotionStatus, Role, User
from audit.choices import AuditAction
from audit.services import record, snapshot
from traitortrack.errors import Refused

# Long enough to spare the database, short enough that a notification written behind the services' back
# (a shell, a data fix) shows within minutes.
UNREAD_COUNT_TIMEOUT = 300
# The password hash never goes into the audit log (as in accounts.admin.UserAdmin).
USER_AUDIT_EXCLUDE = ("password",)


def choose_language(*, user: User, language: str) -> None:
    """The user's pages from now on are in ``language`` (one of settings.LANGUAGES; accounts.middleware.
    UserLanguageMiddleware reads it). A preference, not a power, so it is not audited."""
    if user.language != language:
        user.language = language
        user.save(update_fields=["language"])  # post_save drops this process's kept copy of the user


class PromotionRefused(Refused):
    """A promotion request or decision the rules refuse."""


def _unread_key(user_id: int) -> str:
    return f"notifications:unread:{user_id}"


def unread_notification_count(*, user: AbstractBaseUser) -> int:
    """How many notifications ``user`` has not read: from the cache, else one COUNT query that fills it."""
    key = _unread_key(user.pk)
    count = cache.get(key)
    if count is None:
        count = Notification.objects.filter(user_id=user.pk, read_at__isnull=True).count()
        cache.set(key, count, UNREAD_COUNT_TIMEOUT)
    return count


def _forget_unread_count(user_id: int) -> None:
    # Now, and again after the commit: a page rendered between the two could have cached the count from
    # before the change; the second delete drops that. A rollback costs only one recount.
    key = _unread_key(user_id)
    cache.delete(key)
    transaction.on_commit(lambda: cache.delete(key))


def notify(*, user: User, message: str, link: str = "") -> Notification:
    """Leave ``user`` a notification; the navbar count goes up on their next page."""
    notification = Notification.objects.create(user=user, message=message, link=link)
    _forget_unread_count(user.pk)
    return notification


def mark_notifications_read(*, user: AbstractBaseUser) -> int:
    """Mark every unread notification of ``user`` read now. Returns how many were unread."""
    with transaction.atomic():
        marked = Notification.objects.filter(user_id=user.pk, read_at__isnull=True).update(read_at=timezone.now())
        if marked:
            _forget_unread_count(user.pk)
    return marked


def request_promotion(*, user: User, to_role: str, reason: str, request: HttpRequest | None = None) -> PromotionRequest:
    """Ask for a higher role. Only a role above the user's own may be asked for, and only one request may
    wait at a time (the database holds that too: promotion_one_pending_per_user)."""
    if to_role not in Role.values:
        raise PromotionRefused(PromotionRefusal.UNKNOWN_ROLE, gettext("Choose one of the roles offered."), status=422)
    if ROLE_RANK[Role(to_role)] <= ROLE_RANK[Role(user.role)]:
        raise PromotionRefused(
            PromotionRefusal.NOT_A_PROMOTION,
            gettext("You are already a %(role)s: ask for a higher role.") % {"role": user.get_role_display().lower()},
            status=422,
        )
    reason = reason.strip()
    if not reason:
        raise PromotionRefused(PromotionRefusal.REASON_REQUIRED, gettext("Say why you need the new role."), status=422)
    with transaction.atomic(durable=True):
        # The user's row is the lock two simultaneous requests queue on, so the second sees the first.
        User.objects.select_for_update().filter(pk=user.pk).first()
        if PromotionRequest.objects.filter(user=user, status=PromotionStatus.PENDING).exists():
            raise PromotionRefused(
                PromotionRefusal.ALREADY_PENDING,
                gettext("You already have a request waiting for an admin; wait for their answer."),
            )
        promotion = PromotionRequest.objects.create(user=user, from_role=user.role, to_role=to_role, reason=reason)
        record(
            actor=user, action=AuditAction.PROMOTION_REQUEST, obj=promotion, after=snapshot(promotion), request=request
        )
    return promotion


def decide_promotion(
    *,
    promotion: PromotionRequest,
    admin: User,
    approve: bool,
    note: str = "",
    request: HttpRequest | None = None,
) -> PromotionRequest:
    """Approve or reject a pending request; only an admin may. Approval gives the user the role asked for
    (an admin is also staff and superuser: user_role_decides_admin_access; a dispatcher's area stays).
    The user is notified either way, and the decision and any role change are audited."""
    if not getattr(admin, "is_admin", False):
        raise PromotionRefused(
            PromotionRefusal.ADMIN_ONLY, gettext("Only an admin may decide a promotion request."), status=403
        )
    with transaction.atomic(durable=True):
        # User before request: the order request_promotion locks in, so the two never deadlock.
        user = User.objects.select_for_update().get(pk=promotion.user_id)
        promotion = PromotionRequest.objects.select_for_update().get(pk=promotion.pk)
        if promotion.status != PromotionStatus.PENDING:
            status = promotion.get_status_display().lower()
            raise PromotionRefused(
                PromotionRefusal.ALREADY_DECIDED, gettext("This request was already %(status)s.") % {"status": status}
            )
        if approve and ROLE_RANK[Role(promotion.to_role)] <= ROLE_RANK[Role(user.role)]:
            raise PromotionRefused(
                PromotionRefusal.ROLE_CHANGED,
                gettext("%(user)s is already a %(role)s: reject the request instead.")
                % {"user": user, "role": user.get_role_display().lower()},
            )
        before = snapshot(promotion)
        promotion.status = PromotionStatus.APPROVED if approve else PromotionStatus.REJECTED
        promotion.decided_by = admin
        promotion.decided_at = timezone.now()
        promotion.decision_note = note.strip()
        promotion.save(update_fields=["status", "decided_by", "decided_at", "decision_note"])
        record(
            actor=admin,
            action=AuditAction.PROMOTION_APPROVE if approve else AuditAction.PROMOTION_REJECT,
            obj=promotion,
            before=before,
            after=snapshot(promotion),
            request=request,
        )
        if approve:
            _change_role(user=user, role=promotion.to_role, admin=admin, request=request)
        # In the language of the user it is for, not the admin's: it is read on their pages.
        with translation.override(user.language or settings.LANGUAGE_CODE):
            role_name = str(Role(promotion.to_role).label).lower()
            message = (
                gettext("Your request to become a %(role)s was approved.") % {"role": role_name}
                if approve
                else gettext("Your request to become a %(role)s was rejected.") % {"role": role_name}
            )
            if promotion.decision_note:
                message = gettext("%(message)s Note from %(admin)s: %(note)s") % {
                    "message": message,
                    "admin": admin,
                    "note": promotion.decision_note,
                }
        notify(user=user, message=message, link=reverse("accounts:promotion"))
    promotion.user = user
    return promotion


def _change_role(*, user: User, role: str, admin: User, request: HttpRequest | None) -> None:
    # Audited under the name accounts.admin.UserAdmin uses, so every role change is found the same way.
    before = snapshot(user, exclude=USER_AUDIT_EXCLUDE)
    user.role = role
    user.is_staff = user.is_superuser = role == Role.ADMIN
    user.save(update_fields=["role", "is_staff", "is_superuser"])
    record(
        actor=admin,
        action=AuditAction.USER_ROLE_CHANGE,
        obj=user,
        before=before,
        after=snapshot(user, exclude=USER_AUDIT_EXCLUDE),
        request=request,
    )


# Reads the pages need (kept beside the writes they mirror; accounts has no selectors module yet).
NOTIFICATIONS_SHOWN = 50


def latest_promotion(*, user: AbstractBaseUser) -> PromotionRequest | None:
    """The user's pending request, else their most recent decided one."""
    return PromotionRequest.objects.filter(user_id=user.pk).select_related("decided_by").order_by("-created_at").first()


def recent_notifications(*, user: AbstractBaseUser, limit: int = NOTIFICATIONS_SHOWN) -> list[Notification]:
    return list(Notification.objects.filter(user_id=user.pk).order_by("-created_at")[:limit])
