"""Fixtures for every Bastion test: staff personas, signed-in clients, and a fast, clean harness."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import time_machine
from django.core.cache import cache
from django.db import connections
from django.test import Client
from django.urls import reverse
from pytest_django.fixtures import Settings

from bastion.accounts.models import User
from bastion.audit.testing import flush_allowed
from bastion.test import PASSWORD, T0, make_staff
from bastion.vault.keys import FileKeyProvider

ClientFactory = Callable[..., Client]

CHROMIUM = "/usr/bin/chromium"
# The flags that keep Debian's chromium quiet on a machine with no network but loopback.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--no-first-run",
]


@pytest.fixture(scope="session", autouse=True)
def _audit_flush_allowed() -> Iterator[None]:
    # Transactional tests flush every table afterwards; the audit table's append-only triggers
    # refuse that unless the flush runs with them lifted (see bastion.audit.testing).
    with flush_allowed():
        yield


@pytest.fixture
def private_keys(settings: Settings, tmp_path: Path) -> FileKeyProvider:
    """This test's own master keys, blob store and vault state (shred ledger, drill key).

    Rotating, retiring, shredding or restoring then never touches the suite's shared ones.
    """
    settings.MASTER_KEY_DIR = tmp_path / "keys"
    settings.MASTER_KEY_FILE = ""
    settings.VAULT_KEY_PROVIDER = "bastion.vault.keys.FileKeyProvider"
    settings.VAULT_BLOB_DIR = tmp_path / "files"
    settings.VAULT_STATE_DIR = tmp_path / "state"
    return FileKeyProvider(tmp_path / "keys")


@pytest.fixture(autouse=True)
def _private_vault_state(settings: Settings, tmp_path: Path) -> None:
    # The shred ledger is append-only and read by every shred and restore: one test's lines must
    # not destroy another test's keys, so each test gets its own (as each instance has its own).
    settings.VAULT_STATE_DIR = tmp_path / "vault-state"


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
def clock() -> Iterator[time_machine.Traveller]:
    """Time stands still at ``T0`` until the test moves it (a module may start its own elsewhere)."""
    with time_machine.travel(T0, tick=False) as traveller:
        yield traveller


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


@pytest.fixture
def browser_page(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Any, list[str]]]:
    """A Playwright page in Debian's chromium, and the list of console and page errors it reported.

    Never `playwright install`: it downloads a browser and fails here. A CSP violation is a console
    error, so a test that asserts the list is empty proves its pages need no inline script.
    """
    if not shutil.which(CHROMIUM):
        pytest.fail("Debian's chromium is missing: run `make system-deps`")
    # Playwright's sync API runs an event loop in this thread; the ORM calls made between
    # browser steps are still plain synchronous calls.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context()
        context.set_default_timeout(15_000)
        page = context.new_page()
        problems: list[str] = []
        page.on("console", lambda msg: problems.append(msg.text) if msg.type == "error" else None)
        page.on("pageerror", lambda error: problems.append(str(error)))
        yield page, problems
        browser.close()
        # Entering sync_playwright() switches the contextvars context the test body runs in, and
        # Django keeps its connections per context: the body's connection is not the one the
        # test-database teardown closes. Close it here, still inside that context, or PostgreSQL
        # refuses to drop the test database ("being accessed by other users").
        connections.close_all()
