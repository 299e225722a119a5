"""Settings for the widget benchmark's server: the product's, with a bench-only URLconf.

bench/urls.py adds the ceiling view to the product's URLs, so the same gunicorn process can
answer both and the product itself ships no such endpoint. Everything else (database, cache,
middleware, DEBUG) comes from the environment exactly as in production.
"""

from mint.settings import *  # noqa: F403

ROOT_URLCONF = "bench.urls"
