"""The held-mail queue, mounted at ``/mailbox/`` inside intake's URL namespace."""

from django.urls import path

from bastion.intake.mail import views

urlpatterns = [
    path("", views.mailbox, name="mailbox"),
    path("<uuid:uid>/", views.held_mail_page, name="held_mail"),
    path("<uuid:uid>/original/", views.held_mail_original, name="held_mail_original"),
    path("<uuid:uid>/release/", views.release, name="release_mail"),
    path("<uuid:uid>/dismiss/", views.dismiss, name="dismiss_mail"),
]
