"""WSGI entry point, served by granian (``bastion run``)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bastion.settings")

application = get_wsgi_application()
