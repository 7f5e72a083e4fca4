"""The staff user model, its manager and the personas that tests build on."""

from __future__ import annotations

import pytest
from allauth.mfa.models import Authenticator
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from bastion.accounts.models import Invitation, Role, User, validate_time_zone
from bastion.test import PERSONAS, make_staff, rita, totp_code, totp_secret

pytestmark = pytest.mark.django_db


def test_users_sign_in_by_email_stored_in_lower_case():
    user = User.objects.create_user(" Nora@Bastion.EXAMPLE ", "pw-pw-pw-pw-pw-1", full_name="Nora")

    assert user.email == "nora@bastion.example"
    assert User.USERNAME_FIELD == "email"
    assert user.role == Role.VIEWER
    assert user.time_zone == "UTC"
    assert user.check_password("pw-pw-pw-pw-pw-1")


def test_the_database_refuses_a_mixed_case_address():
    User.objects.create_user("nora@bastion.example")

    with pytest.raises(IntegrityError), transaction.atomic():
        User.objects.filter(email="nora@bastion.example").update(email="Nora@bastion.example")


def test_a_user_without_a_password_cannot_sign_in():
    assert not User.objects.create_user("nora@bastion.example").has_usable_password()


def test_create_superuser_makes_an_admin():
    user = User.objects.create_superuser("lead@bastion.example", "pw-pw-pw-pw-pw-1")

    assert (user.role, user.is_superuser, user.is_admin) == (Role.ADMIN, True, True)
    with pytest.raises(ValueError, match="admin role"):
        User.objects.create_superuser("x@bastion.example", role=Role.VIEWER)
    with pytest.raises(ValueError, match="e-mail"):
        User.objects.create_user("")


@pytest.mark.parametrize(
    ("role", "is_admin", "is_triager"),
    [(Role.ADMIN, True, True), (Role.TRIAGER, False, True), (Role.VIEWER, False, False)],
)
def test_role_properties(role, is_admin, is_triager):
    user = User(email="x@bastion.example", role=role)

    assert (user.is_admin, user.is_triager, user.is_staff) == (is_admin, is_triager, True)
    assert user.get_role_display() == Role(role).label


def test_a_deactivated_user_is_neither_staff_nor_admin():
    user = User(email="x@bastion.example", role=Role.ADMIN, is_active=False)

    assert (user.is_staff, user.is_admin, user.is_triager) == (False, False, False)


def test_time_zones_are_validated_against_the_iana_database():
    validate_time_zone("Europe/Paris")
    with pytest.raises(ValidationError):
        validate_time_zone("Europe/Atlantis")
    user = User(email="x@bastion.example", time_zone="Nowhere/Special")
    with pytest.raises(ValidationError) as invalid:
        user.full_clean(exclude=["password"])
    assert "time_zone" in invalid.value.message_dict


def test_names_are_displayed_with_a_fallback_to_the_address():
    assert User(email="x@bastion.example").get_full_name() == "x@bastion.example"
    assert User(email="x@bastion.example", full_name="Ada Lovelace").get_short_name() == "Ada"
    assert str(User(email="x@bastion.example")) == "x@bastion.example"


def test_personas_cover_the_design_cast():
    assert set(PERSONAS) == {"rita", "alice", "bob", "charlie", "dave", "erin", "uma"}
    assert rita.role is None
    assert rita.email == "rita@researcher.example"
    with pytest.raises(ValueError, match="no staff account"):
        make_staff("rita")


def test_make_staff_enrols_a_totp_authenticator_with_a_known_secret():
    dave = make_staff("dave")

    assert dave.role == Role.ADMIN
    authenticator = Authenticator.objects.get(user=dave)
    assert authenticator.type == Authenticator.Type.TOTP
    assert authenticator.wrap().validate_code(totp_code(dave))
    assert totp_secret("dave") != totp_secret("alice")
    assert not Authenticator.objects.filter(user=make_staff("bob", mfa=False)).exists()


def test_one_open_invitation_per_address_is_enforced_by_the_database(dave):
    Invitation.objects.create(
        email="nora@bastion.example", role=Role.VIEWER, invited_by=dave, expires_at="2999-01-01T00:00Z"
    )

    with pytest.raises(IntegrityError), transaction.atomic():
        Invitation.objects.create(
            email="NORA@bastion.example", role=Role.ADMIN, invited_by=dave, expires_at="2999-01-01T00:00Z"
        )
