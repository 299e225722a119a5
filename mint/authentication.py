"""API token authentication that does not cost a database query per request."""

from __future__ import annotations

import hashlib

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver
from rest_framework.authentication import TokenAuthentication
from rest_framework.authtoken.models import Token
from rest_framework.exceptions import AuthenticationFailed

from .models import User


def token_cache_key(key: str) -> str:
    """Keyed by a digest: the cache never holds a usable token."""
    return f"auth-token:v1:{hashlib.sha256(key.encode()).hexdigest()}"


class CachedTokenAuthentication(TokenAuthentication):
    """DRF's token auth with the token's user kept in the cache.

    The cached user is loaded without its password hash. Revoking a token or changing the
    user drops the entry at once; the timeout bounds an invalidation the cache missed.
    """

    def authenticate_credentials(self, key: str) -> tuple[User, Token]:
        cache_key = token_cache_key(key)
        user = cache.get(cache_key)
        if user is None:
            token = Token.objects.select_related("user").defer("user__password").filter(key=key).first()
            if token is None:
                raise AuthenticationFailed("Invalid token.")
            user = token.user
            if user.is_active:
                cache.set(cache_key, user, timeout=settings.AUTH_TOKEN_CACHE_TIMEOUT)
        if not user.is_active:
            raise AuthenticationFailed("User inactive or deleted.")
        return user, Token(key=key, user=user)


def _forget(keys: list[str]) -> None:
    """Now, and again once the change commits: a request that read the old row in between
    would otherwise have cached it again."""
    cache.delete_many(keys)
    transaction.on_commit(lambda: cache.delete_many(keys))


@receiver(post_delete, sender=Token, dispatch_uid="mint.token_revoked")
def token_revoked(sender, instance: Token, **kwargs) -> None:
    _forget([token_cache_key(instance.key)])


@receiver(post_save, sender=User, dispatch_uid="mint.token_user_changed")
def token_user_changed(sender, instance: User, update_fields=None, **kwargs) -> None:
    if update_fields is not None and set(update_fields) <= {"last_login"}:
        return  # a login changes nothing a token request reads
    keys = Token.objects.filter(user_id=instance.pk).values_list("key", flat=True)
    _forget([token_cache_key(key) for key in keys])
