"""The URL map: each app mounts its own ``urls.py`` under one prefix."""

from django.conf import settings
from django.urls import include, path
from django.views.generic import RedirectView

from bastion import views
from bastion.intake.api import api
from bastion.triage.api import router as staff_router

# One NinjaAPI, one OpenAPI document (/api/v1/openapi.json): the reporter API and, under /staff/,
# the staff API. Routers must be added before api.urls is first read.
api.add_router("/staff/", staff_router)

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    # Browsers ask for /favicon.ico on every page that names no icon (a JSON export, a feed): answer
    # with the site's icon rather than a 404 that each of them logs as a console error.
    path("favicon.ico", RedirectView.as_view(url=f"{settings.STATIC_URL}bastion/favicon.svg")),
    path("accounts/", include("bastion.accounts.urls")),
    path("accounts/", include("allauth.urls")),
    path("audit/", include("bastion.audit.urls")),
    path("portal/", include("bastion.portal.urls")),
    path("triage/", include("bastion.triage.urls")),
    path("disclosure/", include("bastion.disclosure.staff_urls")),
    path("api/v1/", api.urls),
    path("", include("bastion.intake.urls")),
    path("", include("bastion.disclosure.urls")),
]

handler400 = "bastion.views.bad_request"
handler403 = "bastion.views.permission_denied"
handler404 = "bastion.views.page_not_found"
handler500 = "bastion.views.server_error"
