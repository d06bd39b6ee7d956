"""Production settings: the defaults plus everything ``manage.py check --deploy`` asks for."""

from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured

from .settings import *  # noqa: F403
from .settings import env

DEBUG = False
SECRET_KEY = env.str("SECRET_KEY")
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
# Every staff login and every staff API token needs the second factor (README "Security").
OTP_REQUIRED_FOR_STAFF = env.bool("OTP_REQUIRED_FOR_STAFF", default=True)
STORAGES["staticfiles"]["BACKEND"] = "whitenoise.storage.CompressedManifestStaticFilesStorage"  # noqa: F405

# Broker secrets must not fall back to a key derived from SECRET_KEY: refuse to start without real keys.
FIELD_ENCRYPTION_KEYS = [key.strip() for key in env.list("FIELD_ENCRYPTION_KEYS", default=[]) if key.strip()]
if not FIELD_ENCRYPTION_KEYS:
    raise ImproperlyConfigured(
        "FIELD_ENCRYPTION_KEYS is required in production: comma-separated Fernet keys, newest first. "
        'Generate one: python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())"'
    )
for _position, _key in enumerate(FIELD_ENCRYPTION_KEYS, start=1):
    try:
        Fernet(_key)
    except ValueError:
        raise ImproperlyConfigured(
            f"FIELD_ENCRYPTION_KEYS: key {_position} is not a Fernet key (32 url-safe base64-encoded bytes)."
        )
