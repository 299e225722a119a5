"""Token revocation racing a request, with two real connections (PostgreSQL)."""

import threading

import pytest
from django.db import connection, transaction
from rest_framework.authtoken.models import Token
from rest_framework.exceptions import AuthenticationFailed

from mint.authentication import CachedTokenAuthentication

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_token_revoked_while_a_request_reads_it_stops_working_at_commit(user):
    if connection.vendor != "postgresql":
        pytest.skip("needs two real concurrent connections: PostgreSQL (CI's second run)")
    token = Token.objects.create(user=user)
    auth = CachedTokenAuthentication()
    deleted, go_on = threading.Event(), threading.Event()

    def revoke():
        try:
            with transaction.atomic():  # e.g. the admin, or a "log out everywhere" that does more work
                Token.objects.filter(pk=token.pk).delete()  # post_delete drops the cache entry now...
                deleted.set()
                go_on.wait(5)
            # ...and the delete commits here
        finally:
            connection.close()

    thread = threading.Thread(target=revoke)
    thread.start()
    deleted.wait(5)
    auth.authenticate_credentials(token.key)  # a request in between: the row is still visible, so it is cached
    go_on.set()
    thread.join()
    assert not Token.objects.filter(pk=token.pk).exists()
    with pytest.raises(AuthenticationFailed):
        auth.authenticate_credentials(token.key)
