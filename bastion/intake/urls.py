"""Intake's URLs, mounted at the site root: ``/security...`` and ``/.well-known/security-key.asc``.

The report form (``intake:report``) is added here when it is built; until then the policy page
lists the e-mail channel only, rather than link to a page that does not exist.
"""

from django.urls import path

from bastion.intake import views

app_name = "intake"

urlpatterns = [
    path("security", views.policy, name="policy"),
    path("security/challenge", views.challenge, name="challenge"),
    path("security/policy/edit", views.edit_policy, name="edit_policy"),
    path(".well-known/security-key.asc", views.security_key, name="security_key"),
]
