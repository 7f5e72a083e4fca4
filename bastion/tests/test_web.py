"""The web baseline: security headers, the landing page, health, and error pages that leak nothing."""

from __future__ import annotations

import pytest
from django.test import Client, override_settings
from django.urls import path

from bastion import urls as project_urls


def _explode(request):
    raise RuntimeError("secret-internal-detail")


urlpatterns = [*project_urls.urlpatterns, path("explode", _explode)]
handler500 = project_urls.handler500
handler404 = project_urls.handler404


@pytest.mark.django_db
def test_every_page_carries_a_strict_content_security_policy(client):
    response = client.get("/accounts/login/")
    policy = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy
    assert "'unsafe-inline'" not in policy
    assert "frame-ancestors 'none'" in policy
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "same-origin"


@pytest.mark.django_db
def test_https_mode_sends_hsts_and_secure_cookies():
    with override_settings(
        SECURE_HSTS_SECONDS=31_536_000, SECURE_HSTS_INCLUDE_SUBDOMAINS=True, CSRF_COOKIE_SECURE=True
    ):
        response = Client().get("/accounts/login/", secure=True)
    assert response.headers["Strict-Transport-Security"].startswith("max-age=31536000")
    assert response.cookies["csrftoken"]["secure"]


def test_the_settings_turn_on_every_https_protection_together(settings):
    from bastion import settings as bastion_settings

    # The zero-config instance is plain HTTP on loopback; BASTION_HTTPS flips all of these at once.
    assert bastion_settings.HTTPS is False
    assert bastion_settings.SESSION_COOKIE_SECURE is bastion_settings.HTTPS
    assert bastion_settings.CSRF_COOKIE_SECURE is bastion_settings.HTTPS
    assert bastion_settings.SECURE_SSL_REDIRECT is bastion_settings.HTTPS
    assert bastion_settings.SESSION_COOKIE_HTTPONLY
    assert bastion_settings.PASSWORD_HASHERS[0].endswith("Argon2PasswordHasher")


@pytest.mark.django_db
def test_the_dashboard_rejects_anonymous_visitors(client):
    response = client.get("/")
    assert response.status_code == 302
    assert response.url.startswith("/accounts/login/")


@pytest.mark.django_db
def test_the_dashboard_greets_signed_in_staff(client_as, alice):
    response = client_as(alice).get("/")
    assert response.status_code == 200
    assert alice.email in response.text


@pytest.mark.django_db
def test_health_answers_ok(client):
    response = client.get("/healthz")
    assert response.json() == {"status": "ok"}


@pytest.mark.django_db
def test_a_missing_page_is_a_plain_404(client):
    response = client.get("/no/such/page?token=abc")
    assert response.status_code == 404
    assert "Not found" in response.text
    assert "abc" not in response.text


@pytest.mark.django_db
@override_settings(ROOT_URLCONF=__name__, DEBUG=False)
def test_a_server_error_shows_nothing_of_the_failure():
    client = Client(raise_request_exception=False)
    response = client.get("/explode?q=canary-value")
    assert response.status_code == 500
    assert "Something went wrong" in response.text
    for leak in ("secret-internal-detail", "canary-value", "Traceback", "RuntimeError"):
        assert leak not in response.text


@pytest.mark.django_db
@override_settings(ROOT_URLCONF=__name__)
def test_a_bad_request_and_a_denied_request_get_their_own_pages(rf):
    from bastion import views

    assert views.bad_request(rf.get("/")).status_code == 400
    assert views.permission_denied(rf.get("/")).status_code == 403


@pytest.mark.django_db
def test_the_static_assets_are_served_locally(client):
    response = client.get("/static/bastion/bastion.css")
    assert response.status_code == 200
    assert b"--accent" in b"".join(response.streaming_content)
    response.close()
