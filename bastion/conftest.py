"""Fixtures for every Bastion test: staff personas, signed-in clients, and a fast, clean harness."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from django.core.cache import cache
from django.test import Client
from django.urls import reverse
from pytest_django.fixtures import Settings

from bastion.accounts.models import User
from bastion.audit.testing import flush_allowed
from bastion.test import PASSWORD, make_staff

ClientFactory = Callable[..., Client]


@pytest.fixture(scope="session", autouse=True)
def _audit_flush_allowed() -> Iterator[None]:
    # Transactional tests flush every table afterwards; the audit table's append-only triggers
    # refuse that unless the flush runs with them lifted (see bastion.audit.testing).
    with flush_allowed():
        yield


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings: Settings) -> None:
    # Argon2 is slow on purpose; tests hash hundreds of passwords. Production's choice is pinned
    # by accounts/tests/test_password_hashing.py, which reads bastion.settings directly.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _empty_cache() -> Iterator[None]:
    # allauth keeps rate-limit counters and already-used TOTP codes in the cache; one test's
    # failed logins must not throttle the next test.
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def alice(db: None) -> User:
    """A triager."""
    return make_staff("alice")


@pytest.fixture
def bob(db: None) -> User:
    """alice's teammate, also a triager."""
    return make_staff("bob")


@pytest.fixture
def charlie(db: None) -> User:
    """A viewer on another team."""
    return make_staff("charlie")


@pytest.fixture
def dave(db: None) -> User:
    """The security lead: an admin."""
    return make_staff("dave")


@pytest.fixture
def client_as(db: None) -> ClientFactory:
    """``client_as(user)``: a test client signed in as ``user`` (who has MFA from make_staff).

    ``client_as(user, reauthenticated=True)`` also confirms the password through allauth's real
    reauthentication form, as a sensitive action (inviting, changing roles) requires.
    """

    def signed_in(user: User, *, reauthenticated: bool = False, password: str = PASSWORD) -> Client:
        client = Client()
        client.force_login(user, backend="allauth.account.auth_backends.AuthenticationBackend")
        if reauthenticated:
            response = client.post(reverse("account_reauthenticate"), {"password": password})
            assert response.status_code == 302, "reauthentication failed"
        return client

    return signed_in
