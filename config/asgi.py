import os

from django.core.asgi import get_asgi_application

from config.security import refuse_to_start_if_misconfigured

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
application = get_asgi_application()
# ASGI servers run no system checks: without this they would serve on the repository's secrets.
refuse_to_start_if_misconfigured("web server")
