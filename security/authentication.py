"""API token authentication that does not cost a database query per request."""

from __future__ import annotations

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver
from django.utils import timezone
from rest_framework.authentication import TokenAuthentication
from rest_framework.exceptions import AuthenticationFailed

from mint.models import User

from .models import ApiToken
from .services import api_token_key_hash, api_token_mark_used


def api_token_cache_key(key_hash: str) -> str:
    """Keyed by the key's digest, as stored: the cache never holds a usable key. v2: the entry
    is the token (with its user), where v1 held DRF's authtoken user."""
    return f"auth-token:v2:{key_hash}"


def api_token_revoked_cache_key(key_hash: str) -> str:
    """Set when the token is deleted, and outlives any entry cached before it: a request that read
    the row just before the revocation committed may still write the entry after the delete."""
    return f"auth-token-revoked:v1:{key_hash}"


def api_token_revoked_marker_timeout() -> int:
    """Longer than an entry lives, with room for a request slow between its read and its write."""
    return settings.AUTH_TOKEN_CACHE_TIMEOUT + 60


class CachedTokenAuthentication(TokenAuthentication):
    """`Authorization: Token <key>`, with the token and its user kept in the cache.

    The cached user is loaded without its password hash. Revoking a token or changing the
    user drops the entry at once; the timeout bounds an invalidation the cache missed. A revoked
    token also leaves a marker, read with the entry, that refuses the key even if a request racing
    the revocation cached the entry again after it was dropped.
    `request.auth` is the ApiToken (its key is not on it, only the digest).
    """

    def authenticate_credentials(self, key: str) -> tuple[User, ApiToken]:
        key_hash = api_token_key_hash(key)
        cache_key = api_token_cache_key(key_hash)
        revoked_key = api_token_revoked_cache_key(key_hash)
        found = cache.get_many([cache_key, revoked_key])  # one round trip for both
        if revoked_key in found:
            raise AuthenticationFailed("Invalid token.")
        token = found.get(cache_key)
        if token is None:
            token = self._load(key_hash)
            if not api_token_mark_used(token=token):
                token = self._load(key_hash)  # marked elsewhere meanwhile, or revoked: read it again
            if token.user.is_active:
                cache.set(cache_key, token, timeout=settings.AUTH_TOKEN_CACHE_TIMEOUT)
        if not token.user.is_active:
            raise AuthenticationFailed("User inactive or deleted.")
        if token.expires_at is not None and token.expires_at <= timezone.now():
            raise AuthenticationFailed("Token expired.")
        return token.user, token

    @staticmethod
    def _load(key_hash: str) -> ApiToken:
        token = ApiToken.objects.select_related("user").defer("user__password").filter(key_hash=key_hash).first()
        if token is None:
            raise AuthenticationFailed("Invalid token.")
        return token


def _forget(key_hashes: list[str]) -> None:
    """Now, and again once the change commits: a request that read the old row in between
    would otherwise have cached it again."""
    keys = [api_token_cache_key(key_hash) for key_hash in key_hashes]
    cache.delete_many(keys)
    transaction.on_commit(lambda: cache.delete_many(keys))


@receiver(post_delete, sender=ApiToken, dispatch_uid="security.api_token_revoked")
def api_token_revoked(sender, instance: ApiToken, **kwargs) -> None:
    """Drop the entry, and once the delete commits (not before: a rollback leaves the token
    working) mark the key revoked, before dropping the entry again."""
    marker = api_token_revoked_cache_key(instance.key_hash)
    transaction.on_commit(lambda: cache.set(marker, True, timeout=api_token_revoked_marker_timeout()))
    _forget([instance.key_hash])


@receiver(post_save, sender=User, dispatch_uid="security.api_token_user_changed")
def api_token_user_changed(sender, instance: User, created: bool, update_fields=None, **kwargs) -> None:
    if created or (update_fields is not None and set(update_fields) <= {"last_login"}):
        return  # a login changes nothing a token request reads
    _forget(list(ApiToken.objects.filter(user_id=instance.pk).values_list("key_hash", flat=True)))
