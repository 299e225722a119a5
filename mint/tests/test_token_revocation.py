"""Token revocation racing a request, with two real connections (PostgreSQL)."""

import threading
import time

import pytest
from django.core.cache import cache
from django.db import connection, transaction
from django.utils import timezone
from rest_framework.exceptions import AuthenticationFailed

from security.authentication import CachedTokenAuthentication, api_token_cache_key
from security.models import ApiToken
from security.services import api_token_create, api_token_revoke

pytestmark = pytest.mark.django_db(transaction=True)


def _needs_postgresql():
    if connection.vendor != "postgresql":
        pytest.skip("needs two real concurrent connections: PostgreSQL (CI's second run)")


def test_a_token_revoked_while_a_request_reads_it_stops_working_at_commit(user):
    _needs_postgresql()
    new = api_token_create(user=user, name="phone")
    ApiToken.objects.filter(pk=new.token.pk).update(last_used_at=timezone.now())  # no mark-used write: a pure read
    auth = CachedTokenAuthentication()
    deleted, go_on = threading.Event(), threading.Event()

    def revoke():
        try:
            with transaction.atomic():  # e.g. the admin, or a "log out everywhere" that does more work
                api_token_revoke(token=new.token)  # post_delete drops the cache entry now...
                deleted.set()
                go_on.wait(5)
            # ...and the delete commits here
        finally:
            connection.close()

    thread = threading.Thread(target=revoke)
    thread.start()
    deleted.wait(5)
    auth.authenticate_credentials(new.key)  # a request in between: the row is still visible, so it is cached
    go_on.set()
    thread.join()
    assert not ApiToken.objects.filter(pk=new.token.pk).exists()
    with pytest.raises(AuthenticationFailed):
        auth.authenticate_credentials(new.key)


def test_a_token_revoked_while_a_request_marks_it_used_is_refused_and_not_cached(user):
    """The mark-used UPDATE waits for the revocation to commit, matches nothing, and the token is read
    again: the request is refused, and nothing is cached that would let the key work on."""
    _needs_postgresql()
    new = api_token_create(user=user, name="phone")  # never used: the first request writes last_used_at
    deleted = threading.Event()

    def revoke():
        try:
            with transaction.atomic():
                api_token_revoke(token=new.token)
                deleted.set()
                time.sleep(0.3)  # the request below reads the row, then blocks on it
        finally:
            connection.close()

    thread = threading.Thread(target=revoke)
    thread.start()
    deleted.wait(5)
    with pytest.raises(AuthenticationFailed):
        CachedTokenAuthentication().authenticate_credentials(new.key)
    thread.join()
    assert cache.get(api_token_cache_key(new.token.key_hash)) is None
