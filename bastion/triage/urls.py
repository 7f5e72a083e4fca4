"""The staff inbox, mounted at ``/triage/`` by the project URL map."""

from django.urls import path

from bastion.triage import views
from bastion.triage.views import assignment, canned, programs, public_bug, saved_views, vault
from bastion.triage.views import bounty as bounty_views
from bastion.triage.views import deletion as deletion_views
from bastion.triage.views import duplicates as duplicate_views
from bastion.triage.views import embargo as embargo_views
from bastion.triage.views import metrics as metrics_views
from bastion.triage.views import retention as retention_views
from bastion.triage.views import scoring as scoring_views
from bastion.triage.views.inbox import bulk as bulk_action

app_name = "triage"

urlpatterns = [
    path("", views.inbox, name="inbox"),
    path("bulk/", bulk_action, name="bulk"),
    path("views/", saved_views.save_view, name="saved_view_save"),
    path("views/<int:pk>/delete/", saved_views.delete_view, name="saved_view_delete"),
    # Fixed paths come before "<tracking_id>/", which would otherwise take them for a tracking ID.
    path("rota/", assignment.rota, name="rota"),
    path("programs/", programs.program_list, name="programs"),
    path("programs/new/", programs.program_edit, name="program_new"),
    path("programs/<int:pk>/", programs.program_edit, name="program_edit"),
    path("assets/new/", programs.asset_edit, name="asset_new"),
    path("assets/<int:pk>/", programs.asset_edit, name="asset_edit"),
    path("canned/", canned.canned_list, name="canned"),
    path("canned/<int:pk>/", canned.canned_edit, name="canned_edit"),
    path("canned/<int:pk>/delete/", canned.canned_delete, name="canned_delete"),
    path("cwe/search/", scoring_views.cwe_search, name="cwe_search"),
    path("cvss/score/", scoring_views.cvss_score, name="cvss_score"),
    path("metrics/", metrics_views.dashboard, name="metrics"),
    path("metrics/<slug:chart>.csv", metrics_views.export_csv, name="metrics_csv"),
    path("vault/", vault.vault, name="vault"),
    path("vault/backup/", vault.backup_now, name="vault_backup_now"),
    path("retention/", retention_views.retention_rules, name="retention"),
    path("<str:tracking_id>/", views.report_page, name="report"),
    path("<str:tracking_id>/attachments/<uuid:uid>/", views.download, name="attachment"),
    path("<str:tracking_id>/emails/<uuid:uid>/", views.mail_original, name="mail_original"),
    path("<str:tracking_id>/reply/", views.reply, name="reply"),
    path("<str:tracking_id>/note/", views.note, name="note"),
    path("<str:tracking_id>/status/", views.status, name="status"),
    path("<str:tracking_id>/classify/", scoring_views.classify, name="classify"),
    path("<str:tracking_id>/duplicates/", duplicate_views.candidates, name="duplicates"),
    path("<str:tracking_id>/duplicate/", duplicate_views.mark, name="mark_duplicate"),
    path("<str:tracking_id>/bounty/eligibility/", bounty_views.eligibility, name="bounty_eligibility"),
    path("<str:tracking_id>/bounty/decline/", bounty_views.decline, name="bounty_decline"),
    path("<str:tracking_id>/bounty/propose/", bounty_views.propose, name="bounty_propose"),
    path("<str:tracking_id>/bounty/approve/", bounty_views.approve, name="bounty_approve"),
    path("<str:tracking_id>/bounty/paid/", bounty_views.paid, name="bounty_paid"),
    path("<str:tracking_id>/assign/", assignment.assign, name="assign"),
    path("<str:tracking_id>/public-bug/", public_bug.hand_over, name="public_bug"),
    path("<str:tracking_id>/public-bug.md", public_bug.export, name="public_bug_export"),
    path("<str:tracking_id>/deletion/approve/", deletion_views.approve, name="deletion_approve"),
    path("<str:tracking_id>/deletion/refuse/", deletion_views.refuse, name="deletion_refuse"),
    path("<str:tracking_id>/break-glass/", embargo_views.break_glass_view, name="break_glass"),
    path("<str:tracking_id>/embargo/", embargo_views.set_embargo_view, name="embargo_set"),
    path("<str:tracking_id>/embargo/move/", embargo_views.move, name="embargo_move"),
    path("<str:tracking_id>/embargo/lift/", embargo_views.lift, name="embargo_lift"),
    path("<str:tracking_id>/embargo/parties/", embargo_views.party_add, name="embargo_party_add"),
    path(
        "<str:tracking_id>/embargo/parties/<uuid:uid>/acknowledge/",
        embargo_views.acknowledge,
        name="embargo_acknowledge",
    ),
    path("<str:tracking_id>/embargo/grants/", embargo_views.grant, name="embargo_grant"),
    path("<str:tracking_id>/embargo/grants/revoke/", embargo_views.revoke, name="embargo_revoke"),
]
