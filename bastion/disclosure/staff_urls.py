"""Disclosure's staff URLs, mounted under ``/disclosure/``: upstreams, hand-offs, advisories."""

app_name = "disclosure_staff"

urlpatterns: list = []
