"""The staff inbox, mounted at ``/triage/`` by the project URL map."""

from django.urls import path

from bastion.triage import views

app_name = "triage"

urlpatterns = [
    path("", views.inbox, name="inbox"),
    path("<str:tracking_id>/", views.report_page, name="report"),
    path("<str:tracking_id>/attachments/<uuid:uid>/", views.download, name="attachment"),
    path("<str:tracking_id>/emails/<uuid:uid>/", views.mail_original, name="mail_original"),
    path("<str:tracking_id>/reply/", views.reply, name="reply"),
    path("<str:tracking_id>/note/", views.note, name="note"),
    path("<str:tracking_id>/status/", views.status, name="status"),
]
