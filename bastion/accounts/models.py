"""Staff accounts: who may sign in, with which role, and the one-time links that create accounts.

There is no public signup. The first admin comes from a setup link printed on the console
(``SetupLink``); everyone after that is invited by an admin (``Invitation``). Neither table stores a
usable secret: a setup link keeps only the SHA-256 of its token, and an invitation's token is an
HMAC over a stored nonce under the instance's SECRET_KEY (see ``tokens.py``).
"""

from __future__ import annotations

import functools
import zoneinfo
from datetime import datetime

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.contrib.auth.models import PermissionsMixin
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models.functions import Lower
from django.urls import reverse
from django.utils import timezone

from bastion.accounts import tokens

# Entries of the tz database that are not places a person lives in.
_NOT_A_PLACE = frozenset({"localtime", "Factory", "posixrules"})


@functools.cache
def time_zone_names() -> tuple[str, ...]:
    """Every IANA time zone this machine knows, sorted (cached: it walks the tz database)."""
    return tuple(sorted(set(zoneinfo.available_timezones()) - _NOT_A_PLACE))


def validate_time_zone(value: str) -> None:
    """Accept only an IANA zone name known to this machine, such as ``Europe/Paris``."""
    if value not in time_zone_names():
        raise ValidationError(
            "%(value)s is not a known time zone.", code="invalid_time_zone", params={"value": value}
        )


def normalize_email_address(value: str) -> str:
    """The one spelling we store and compare: trimmed and lower-cased.

    allauth looks users up with ``email=address.lower()``, so a mixed-case row would never match.
    """
    return value.strip().lower()


class Role(models.TextChoices):
    """What a staff member may do. Admins are the security leads; triagers work reports."""

    ADMIN = "admin", "Admin (security lead)"
    TRIAGER = "triager", "Triager"
    VIEWER = "viewer", "Viewer"


class UserQuerySet(models.QuerySet["User"]):
    def active(self) -> UserQuerySet:
        return self.filter(is_active=True)

    def active_admins(self) -> UserQuerySet:
        return self.filter(is_active=True, role=Role.ADMIN)

    def assignable(self) -> UserQuerySet:
        """Who may be given reports, back someone up or be escalated to: active triagers and admins."""
        return self.filter(is_active=True, role__in=[Role.TRIAGER, Role.ADMIN])


class UserManager(BaseUserManager["User"]):
    """Creates staff users keyed by e-mail address (there are no usernames)."""

    use_in_migrations = True

    def get_queryset(self) -> UserQuerySet:
        return UserQuerySet(self.model, using=self._db)

    def assignable(self) -> UserQuerySet:
        """See :meth:`UserQuerySet.assignable`."""
        return self.get_queryset().assignable()

    def active(self) -> UserQuerySet:
        return self.get_queryset().active()

    def active_admins(self) -> UserQuerySet:
        return self.get_queryset().active_admins()

    def create_user(self, email: str, password: str | None = None, **extra: object) -> User:
        """A staff user; with no password the account cannot sign in until one is set."""
        if not email:
            raise ValueError("A staff user needs an e-mail address.")
        user = self.model(email=normalize_email_address(email), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_superuser(self, email: str, password: str | None = None, **extra: object) -> User:
        """An admin (``manage.py createsuperuser``); the setup link is the usual way to make one."""
        extra.setdefault("role", Role.ADMIN)
        extra.setdefault("is_superuser", True)
        if extra["role"] != Role.ADMIN:
            raise ValueError("A superuser must have the admin role.")
        return self.create_user(email, password, **extra)


class User(AbstractBaseUser, PermissionsMixin):
    """A staff member. Signs in with e-mail, password and a second factor (always)."""

    email = models.EmailField("e-mail address", unique=True)
    full_name = models.CharField(max_length=150, blank=True)
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.VIEWER)
    time_zone = models.CharField(max_length=64, default="UTC", validators=[validate_time_zone])
    is_active = models.BooleanField(
        default=True, help_text="Deactivated staff cannot sign in; their history stays attributed to them."
    )
    date_joined = models.DateTimeField(default=timezone.now)
    # The on-call rota: who takes over this person's reports when a response target is about to
    # be missed, and whether they are on duty now (round-robin auto-assignment picks among those).
    backup = models.ForeignKey(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="backing_up"
    )
    on_duty = models.BooleanField(default=False)
    last_assigned_at = models.DateTimeField(null=True, blank=True, editable=False)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS = ["full_name"]

    class Meta:
        ordering = ["email"]
        constraints = [
            # Lookups compare the stored spelling exactly; a mixed-case row would be unreachable
            # and could shadow a second account for the same mailbox.
            models.CheckConstraint(
                condition=models.Q(email=Lower("email")), name="accounts_user_email_lower"
            ),
        ]

    def __str__(self) -> str:
        return self.email

    def save(self, *args: object, **kwargs: object) -> None:
        self.email = normalize_email_address(self.email)
        super().save(*args, **kwargs)  # type: ignore[arg-type]

    def get_full_name(self) -> str:
        return self.full_name or self.email

    def get_short_name(self) -> str:
        return self.full_name.split(" ")[0] if self.full_name else self.email

    @property
    def is_admin(self) -> bool:
        return self.is_active and self.role == Role.ADMIN

    @property
    def is_triager(self) -> bool:
        """Triagers and admins: everyone who may work on reports."""
        return self.is_active and self.role in {Role.TRIAGER, Role.ADMIN}

    @property
    def is_staff(self) -> bool:
        # Every active account is staff (reporters have no accounts). No admin site is installed,
        # so this grants nothing by itself; it exists for code that asks the Django question.
        return self.is_active


class SetupLinkQuerySet(models.QuerySet["SetupLink"]):
    def usable(self, now: datetime | None = None) -> SetupLinkQuerySet:
        return self.filter(used_at__isnull=True, expires_at__gt=now or timezone.now())


class SetupLink(models.Model):
    """A one-time link that creates the first admin account.

    Only the SHA-256 of the 32-byte token is stored: the link itself exists only on the console
    of whoever started Bastion, so reading the database does not let anyone claim the instance.
    """

    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)

    objects = SetupLinkQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"setup link #{self.pk}"

    def is_expired(self, now: datetime | None = None) -> bool:
        return self.expires_at <= (now or timezone.now())


class InvitationQuerySet(models.QuerySet["Invitation"]):
    def open(self) -> InvitationQuerySet:
        """Neither accepted nor revoked (it may still have expired)."""
        return self.filter(accepted_at__isnull=True, revoked_at__isnull=True)

    def pending(self, now: datetime | None = None) -> InvitationQuerySet:
        """Open and not expired: the link in the e-mail still works."""
        return self.open().filter(expires_at__gt=now or timezone.now())


class Invitation(models.Model):
    """An admin's invitation for one address to join with one role.

    The link's token is never stored: it is ``HMAC-SHA256(SECRET_KEY, "invitation:<id>:<nonce>")``,
    so the mail task can rebuild it from the id alone, and a copy of the database without the
    secret key cannot forge or replay it. Accepting or revoking closes it for good.
    """

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        EXPIRED = "expired", "Expired"
        ACCEPTED = "accepted", "Accepted"
        REVOKED = "revoked", "Revoked"

    email = models.EmailField("e-mail address")
    role = models.CharField(max_length=16, choices=Role.choices)
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="invitations_sent"
    )
    nonce = models.CharField(max_length=64, editable=False, default=tokens.new_nonce)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    sent_at = models.DateTimeField(null=True, blank=True)
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects = InvitationQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            # At most one open invitation per address, even when two admins invite at once.
            models.UniqueConstraint(
                fields=["email"],
                condition=models.Q(accepted_at__isnull=True, revoked_at__isnull=True),
                name="accounts_invitation_one_open_per_email",
            ),
        ]

    def __str__(self) -> str:
        return f"invitation #{self.pk} for {self.email}"

    def save(self, *args: object, **kwargs: object) -> None:
        self.email = normalize_email_address(self.email)
        super().save(*args, **kwargs)  # type: ignore[arg-type]

    def status(self, now: datetime | None = None) -> Invitation.Status:
        if self.accepted_at is not None:
            return self.Status.ACCEPTED
        if self.revoked_at is not None:
            return self.Status.REVOKED
        if self.expires_at <= (now or timezone.now()):
            return self.Status.EXPIRED
        return self.Status.PENDING

    def token(self) -> str:
        return tokens.invitation_token(self.pk, self.nonce)

    def link(self) -> str:
        """The absolute URL that accepts this invitation (rebuilt from id and nonce, never stored)."""
        return settings.BASE_URL + reverse("accounts:invitation", args=[self.pk, self.token()])

    def token_matches(self, token: str) -> bool:
        return tokens.invitation_token_matches(self.pk, self.nonce, token)


class ApiScope(models.TextChoices):
    """What a personal API token may do; a token holds one or more."""

    REPORTS_READ = "reports:read", "Read reports (list, open, including content)"
    REPORTS_WRITE = "reports:write", "Change reports (status, assignee, scoring, labels)"
    MESSAGES_WRITE = "messages:write", "Post replies and internal notes"


class ApiToken(models.Model):
    """A personal API token: shown once, stored only as a hash, scoped, revocable, audited on use.

    ``prefix`` (the first characters of the token, stored in clear) lets a person tell their
    tokens apart in the profile page and in the audit trail without the secret.
    """

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=80)
    prefix = models.CharField(max_length=16, editable=False)
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    scopes = models.JSONField(default=list)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"API token {self.prefix}… of {self.user_id}"

    def allows(self, scope: ApiScope | str) -> bool:
        """Whether this token carries ``scope``."""
        return ApiScope(scope).value in self.scopes
