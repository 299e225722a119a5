"""Test settings: the project's settings on their embedded defaults, with tasks run inline.

Set DATABASE_URL and REDIS_URL to run the same suite against PostgreSQL and Redis.
"""

import atexit
import os
import shutil
import tempfile

os.environ.setdefault("SECRET_KEY", "test-only-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz")
# A fixed throwaway key: tests need a stable key, and no real secret is ever encrypted with it.
os.environ.setdefault("CREDENTIALS_KEYS", "2wQc8kqLQmI1ZbeTqHYbZ4n3wd1G8rSmX0n3V4zZ3mo=")
os.environ.setdefault("TASKS_SYNC", "1")
os.environ.setdefault("DEMO_MODE", "1")
if "VAR_DIR" not in os.environ:
    os.environ["VAR_DIR"] = tempfile.mkdtemp(prefix="mint-test-")
    atexit.register(shutil.rmtree, os.environ["VAR_DIR"], ignore_errors=True)

from .settings import *  # noqa: F403
from .settings import DATABASE_REPLICAS, DATABASES, REDIS_URL, STATIC_ROOT, STORAGES, VAR_DIR

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
SECURE_SSL_REDIRECT = False
STORAGES = {**STORAGES, "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # A file, like the embedded default, not Django's shared in-memory database: that one
    # answers two writers at once with "table is locked" instead of waiting as SQLite does.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test.sqlite3")}
for _alias in DATABASE_REPLICAS:
    # The test database has no replica: the aliases read the test database itself.
    DATABASES[_alias]["TEST"] = {"MIRROR": "default"}
if not REDIS_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # whitenoise serves from it; tests never collectstatic
