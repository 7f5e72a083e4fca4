"""Intake's URLs, mounted at the site root: ``/security...`` and ``/.well-known/security-key.asc``."""

from django.urls import include, path

from bastion.intake import report_views, stats_views, views

app_name = "intake"

urlpatterns = [
    path("security", views.policy, name="policy"),
    path("security/challenge", views.challenge, name="challenge"),
    path("security/stats", stats_views.stats, name="stats"),
    path("security/policy/edit", views.edit_policy, name="edit_policy"),
    path("security/report", report_views.report, name="report"),
    path("security/report/received/<str:tracking_id>", report_views.received, name="received"),
    path("security/report/received/<str:tracking_id>/receipt.asc", report_views.receipt, name="receipt"),
    path("security/links", report_views.links, name="links"),
    path(".well-known/security-key.asc", views.security_key, name="security_key"),
    path("mailbox/", include("bastion.intake.mail.urls")),
]
