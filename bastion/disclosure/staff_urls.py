"""Disclosure's staff URLs, mounted under ``/disclosure/``: upstreams, hand-offs, advisories."""

from django.urls import path

from bastion.disclosure.views import advisories as advisory_views
from bastion.disclosure.views import credits as credit_views
from bastion.disclosure.views import handoff as handoff_views
from bastion.disclosure.views import thanks as thanks_views
from bastion.disclosure.views import upstream as upstream_views

app_name = "disclosure_staff"

urlpatterns: list = [
    path("upstreams/", upstream_views.upstream_list, name="upstreams"),
    path("upstreams/new", upstream_views.upstream_edit, name="upstream_new"),
    path("upstreams/<uuid:uid>/", upstream_views.upstream_edit, name="upstream_edit"),
    path("handoff/<str:tracking_id>/new", handoff_views.handoff_new, name="handoff_new"),
    path("handoff/<uuid:uid>/", handoff_views.handoff_page, name="handoff"),
    path("handoff/<uuid:uid>/packet", handoff_views.handoff_packet, name="handoff_packet"),
    path("reports/<str:tracking_id>/credits/", credit_views.credit_list, name="credits"),
    path("reports/<str:tracking_id>/credits/add", credit_views.credit_add, name="credit_add"),
    path("credits/<uuid:uid>/correct", credit_views.credit_correct, name="credit_correct"),
    path("credits/<uuid:uid>/withdraw", credit_views.credit_withdraw, name="credit_withdraw"),
    path("credits/<uuid:uid>/history", credit_views.credit_history, name="credit_history"),
    path("advisories/", advisory_views.advisory_list, name="advisories"),
    path("advisories/new", advisory_views.advisory_new, name="advisory_new"),
    path("advisories/<str:identifier>/", advisory_views.advisory_detail, name="advisory"),
    path("advisories/<str:identifier>/edit", advisory_views.advisory_edit, name="advisory_edit"),
    path(
        "advisories/<str:identifier>/revisions", advisory_views.advisory_revisions, name="advisory_revisions"
    ),
    path("advisories/<str:identifier>/submit", advisory_views.advisory_submit, name="advisory_submit"),
    path("advisories/<str:identifier>/approve", advisory_views.advisory_approve, name="advisory_approve"),
    path(
        "advisories/<str:identifier>/send-back", advisory_views.advisory_send_back, name="advisory_send_back"
    ),
    path("advisories/<str:identifier>/schedule", advisory_views.advisory_schedule, name="advisory_schedule"),
    path("advisories/<str:identifier>/publish", advisory_views.advisory_publish, name="advisory_publish"),
    path(
        "advisories/<str:identifier>/republish", advisory_views.advisory_republish, name="advisory_republish"
    ),
    path("advisories/<str:identifier>/withdraw", advisory_views.advisory_withdraw, name="advisory_withdraw"),
    path("thanks/import", thanks_views.thanks_import, name="thanks_import"),
]
