"""The portal's URLs, mounted at ``/portal/``: every one starts with the report's magic link."""

from django.urls import path

from bastion.portal import credit, embargo, upstream, views

app_name = "portal"

_LINK = "<str:tracking_id>/<str:token>/"

urlpatterns = [
    path(_LINK, views.report_page, name="report"),
    path(_LINK + "reply", views.reply, name="reply"),
    path(_LINK + "files/<uuid:uid>", views.download, name="download"),
    path(_LINK + "credit", credit.credit, name="credit"),
    path(_LINK + "credit/confirm", credit.credit_confirm, name="credit_confirm"),
    path(_LINK + "key", views.public_key, name="public_key"),
    path(_LINK + "time-zone", views.time_zone, name="time_zone"),
    path(_LINK + "deletion", views.deletion, name="deletion"),
    path(_LINK + "embargo/acknowledge", embargo.acknowledge, name="embargo_acknowledge"),
    path(_LINK + "upstream", upstream.upstream_consent, name="upstream_consent"),
]
