"""One-file Django project: ``POST /submit`` stores the body in one row and answers 201."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import django
from django.conf import settings
from django.db import connection, models, transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from bastion.config import sqlite_database

DB = Path(os.environ["BARE_APP_DB"])

settings.configure(
    DEBUG=False,
    SECRET_KEY="bare-app-benchmark-only",  # noqa: S106 - a throw-away benchmark process
    ALLOWED_HOSTS=["*"],
    ROOT_URLCONF=__name__,
    INSTALLED_APPS=["django.contrib.contenttypes"],
    DATABASES={"default": sqlite_database(DB)},
    MIDDLEWARE=[],
    USE_TZ=True,
)
django.setup()


class Submission(models.Model):
    body = models.TextField()
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        app_label = "bare"


def submit(request: HttpRequest) -> HttpResponse:
    payload = json.loads(request.body)
    with transaction.atomic():
        row = Submission.objects.create(body=json.dumps(payload))
    return JsonResponse({"id": row.pk}, status=201)


urlpatterns = [path("submit", submit)]


def create_schema() -> None:
    with connection.schema_editor() as editor:
        editor.create_model(Submission)


if __name__ == "__main__":
    create_schema()
else:
    from django.core.wsgi import get_wsgi_application

    application = get_wsgi_application()
