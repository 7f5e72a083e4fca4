"""The audit screen, mounted at ``/audit/`` by the project URL map."""

from django.urls import path

from bastion.audit import views

app_name = "audit"

urlpatterns = [
    path("", views.events, name="events"),
    path("verify", views.verify, name="verify"),
]
