"""Test settings for a worker process that sends email over SMTP to a loopback test server.

The test settings keep email in memory; a worker in its own process must speak real SMTP for a
test to see what went out, and to kill it mid-conversation.
"""

import os

from mint.settings_test import *  # noqa: F403

EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
EMAIL_HOST = "127.0.0.1"
EMAIL_PORT = int(os.environ["TEST_SMTP_PORT"])
EMAIL_TIMEOUT = 30
