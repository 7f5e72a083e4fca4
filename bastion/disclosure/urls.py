"""Disclosure's public URLs, mounted at the site root: advisories, thanks, the well-known documents."""

app_name = "disclosure"

urlpatterns: list = []
