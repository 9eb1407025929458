import os

from django.core.wsgi import get_wsgi_application

from config.security import refuse_to_start_if_misconfigured

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
application = get_wsgi_application()
# gunicorn runs no system checks: without this it would serve on the repository's secrets.
refuse_to_start_if_misconfigured("web server")
