from axes.models import AccessAttempt
from django.conf import settings
from django.contrib.auth.models import AbstractUser, UserManager
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class Role(models.TextChoices):
    DISPATCHER = "dispatcher", _("Dispatcher")
    BILLER = "biller", _("Biller")
    ADMIN = "admin", _("Admin")


class DispatchArea(models.Model):
    """A warehouse or loading zone. Dispatchers belong to one; bags remember where they were first scanned."""

    name = models.CharField(max_length=100, unique=True)
    code = models.SlugField(max_length=30, unique=True, help_text="Short code, e.g. 'wh1'.")
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("dispatch area")
        verbose_name_plural = _("dispatch areas")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class TraitorTrackUserManager(UserManager):
    def create_superuser(self, username, email=None, password=None, **extra_fields):
        extra_fields.setdefault("role", Role.ADMIN)
        return super().create_superuser(username, email, password, **extra_fields)


class User(AbstractUser):
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.DISPATCHER)
    dispatch_area = models.ForeignKey(
        DispatchArea, on_delete=models.PROTECT, null=True, blank=True, related_name="users"
    )

    # The pages' language this user chose with the switch (accounts.views.set_language); empty: the
    # language cookie's, else the browser's (settings.LANGUAGES).
    language = models.CharField(max_length=8, choices=settings.LANGUAGES, blank=True, default="")

    objects = TraitorTrackUserManager()

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(role__in=Role.values), name="user_role_valid"),
            models.CheckConstraint(
                condition=Q(language__in=["", *(code for code, _name in settings.LANGUAGES)]),
                name="user_language_valid",
            ),
            # A dispatcher sees only their area's bags, so one without an area could see nothing.
            models.CheckConstraint(
                condition=~Q(role=Role.DISPATCHER) | Q(dispatch_area__isnull=False),
                name="user_dispatcher_has_area",
            ),
            # The role is the whole of a user's power: an admin is staff and superuser (the Django admin,
            # every permission), nobody else is either. No "dispatcher superuser" by a stray tick box.
            models.CheckConstraint(
                condition=Q(role=Role.ADMIN, is_staff=True, is_superuser=True)
                | (~Q(role=Role.ADMIN) & Q(is_staff=False, is_superuser=False)),
                name="user_role_decides_admin_access",
            ),
        ]

    def __str__(self) -> str:
        return self.username

    @property
    def is_admin(self) -> bool:
        return self.role == Role.ADMIN

    @property
    def is_biller(self) -> bool:
        return self.role == Role.BILLER

    @property
    def handles_bills(self) -> bool:
        """Billers and admins: they work on bills and returns and see every dispatch area."""
        return self.role in (Role.BILLER, Role.ADMIN)

    @property
    def is_dispatcher(self) -> bool:
        return self.role == Role.DISPATCHER


# Roles from least to most power: a promotion only ever moves a user up this list.
ROLE_RANK = {Role.DISPATCHER: 0, Role.BILLER: 1, Role.ADMIN: 2}


class PromotionStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    APPROVED = "approved", _("Approved")
    REJECTED = "rejected", _("Rejected")


class PromotionRequest(models.Model):
    """A user's request for a higher role; an admin approves or rejects it (accounts.services)."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="promotion_requests")
    from_role = models.CharField(max_length=10, choices=Role.choices)
    to_role = models.CharField(max_length=10, choices=Role.choices)
    reason = models.TextField()
    status = models.CharField(max_length=10, choices=PromotionStatus.choices, default=PromotionStatus.PENDING)
    decided_by = models.ForeignKey(
        User, on_delete=models.PROTECT, null=True, blank=True, related_name="promotion_decisions"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_note = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("promotion request")
        verbose_name_plural = _("promotion requests")
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(from_role=Role.DISPATCHER, to_role__in=[Role.BILLER, Role.ADMIN])
                | Q(from_role=Role.BILLER, to_role=Role.ADMIN),
                name="promotion_to_higher_role",
            ),
            models.CheckConstraint(condition=Q(status__in=PromotionStatus.values), name="promotion_status_valid"),
            # A decided request names who decided and when; a pending one neither.
            models.CheckConstraint(
                condition=Q(status=PromotionStatus.PENDING, decided_at__isnull=True)
                | (~Q(status=PromotionStatus.PENDING) & Q(decided_at__isnull=False)),
                name="promotion_decided_has_time",
            ),
            models.UniqueConstraint(
                fields=["user"],
                condition=Q(status=PromotionStatus.PENDING),
                name="promotion_one_pending_per_user",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user_id}: {self.from_role} → {self.to_role} ({self.status})"


class Notification(models.Model):
    """A message shown to one user in the app; read when they open their notifications page."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="notifications")
    message = models.TextField()
    link = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["user", "read_at", "-created_at"], name="notification_user_unread"),
        ]

    def __str__(self) -> str:
        return self.message[:80]


class LoginLockout(AccessAttempt):
    """django-axes' failed-login counts per username and IP, under the name an admin knows them by (the admin
    lists them with the users; deleting one unlocks that pair). A proxy: no table of its own."""

    class Meta:
        proxy = True
        verbose_name = _("login lockout")
        verbose_name_plural = _("login lockouts")
