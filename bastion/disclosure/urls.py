"""Disclosure's public URLs, mounted at the site root: advisories, thanks, the well-known documents."""

from django.urls import path

from bastion.disclosure import feeds
from bastion.disclosure.views import csaf as csaf_views
from bastion.disclosure.views import public as public_views
from bastion.disclosure.views import securitytxt as securitytxt_views
from bastion.disclosure.views import thanks as thanks_views

app_name = "disclosure"

urlpatterns: list = [
    path("security/advisories", public_views.advisory_list, name="advisories"),
    path("security/advisories/feed.atom", feeds.AdvisoryFeed(), name="advisory_feed"),
    path("security/advisories/index.json", public_views.advisory_index, name="advisory_index"),
    path("security/advisories/<slug:identifier>", public_views.advisory_page, name="advisory"),
    path("security/advisories/<slug:identifier>/csaf.json", public_views.advisory_csaf, name="advisory_csaf"),
    path(
        "security/advisories/<slug:identifier>/osv.json",
        public_views.advisory_document,
        {"kind": "osv"},
        name="advisory_osv",
    ),
    path(
        "security/advisories/<slug:identifier>/osv.json.sha256",
        public_views.advisory_document_sha256,
        {"kind": "osv"},
        name="advisory_osv_sha256",
    ),
    path(
        "security/advisories/<slug:identifier>/osv.json.asc",
        public_views.advisory_document_signature,
        {"kind": "osv"},
        name="advisory_osv_asc",
    ),
    path(
        "security/advisories/<slug:identifier>/cve.json",
        public_views.advisory_document,
        {"kind": "cve"},
        name="advisory_cve",
    ),
    path(
        "security/advisories/<slug:identifier>/cve.json.sha256",
        public_views.advisory_document_sha256,
        {"kind": "cve"},
        name="advisory_cve_sha256",
    ),
    path(
        "security/advisories/<slug:identifier>/cve.json.asc",
        public_views.advisory_document_signature,
        {"kind": "cve"},
        name="advisory_cve_asc",
    ),
    path(
        ".well-known/csaf/provider-metadata.json",
        csaf_views.provider_metadata_json,
        name="csaf_provider_metadata",
    ),
    path(".well-known/csaf/white/", csaf_views.directory, name="csaf_directory"),
    path(".well-known/csaf/white/index.txt", csaf_views.index_txt, name="csaf_index"),
    path(".well-known/csaf/white/changes.csv", csaf_views.changes_csv, name="csaf_changes"),
    path(".well-known/csaf/white/<int:year>/", csaf_views.directory, name="csaf_year"),
    path(".well-known/csaf/white/<int:year>/<str:name>.json", csaf_views.document_json, name="csaf_document"),
    path(
        ".well-known/csaf/white/<int:year>/<str:name>.json.sha256",
        csaf_views.document_sha256,
        name="csaf_document_sha256",
    ),
    path(
        ".well-known/csaf/white/<int:year>/<str:name>.json.asc",
        csaf_views.document_signature,
        name="csaf_document_asc",
    ),
    path("security/thanks", thanks_views.thanks, name="thanks"),
    path(".well-known/security.txt", securitytxt_views.security_txt, name="security_txt"),
    path("security.txt", securitytxt_views.legacy_security_txt, name="security_txt_legacy"),
]
