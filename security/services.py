from __future__ import annotations

import base64
import datetime as dt
import hashlib
import ipaddress
import secrets
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth import authenticate
from django.db import transaction
from django.db.models import F, Q, QuerySet
from django.db.models.functions import Coalesce
from django.http import HttpRequest
from django.utils import timezone
from django.utils.crypto import constant_time_compare, salted_hmac
from django_otp.plugins.otp_totp.models import TOTPDevice

from mint.models import User

from .models import ApiToken, AuditEvent, RecoveryCode, SignInFailureCount


def client_ip(request: HttpRequest) -> str | None:
    """The address the request came from.

    Served directly, that is REMOTE_ADDR. Behind TRUSTED_PROXY_COUNT proxies (each appending the
    address it received from to X-Forwarded-For, as nginx and cloud load balancers do), REMOTE_ADDR
    is the nearest proxy's, and the client is that many hops from the right of X-Forwarded-For:
    the hops further left were written by the client, which can put anything there.
    """
    hops = settings.TRUSTED_PROXY_COUNT
    if hops:
        forwarded = [hop.strip() for hop in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if hop.strip()]
        if len(forwarded) >= hops:
            candidate = forwarded[-hops]
            try:
                return str(ipaddress.ip_address(candidate))
            except ValueError:
                return None
    return request.META.get("REMOTE_ADDR") or None


def audit_record(
    *, action: str, user: User | None = None, request: HttpRequest | None = None, **detail: object
) -> AuditEvent:
    """Record a security-relevant action. `detail` is shown to the user and to staff: ids and
    names only, never a password, token, code or bank login."""
    if user is None and request is not None and request.user.is_authenticated:
        user = request.user  # type: ignore[assignment]
    return AuditEvent.objects.create(
        user=user,
        action=action,
        ip=client_ip(request) if request is not None else None,
        user_agent=request.headers.get("User-Agent", "")[:300] if request is not None else "",
        detail=detail,
    )


# API tokens. A key is "mint_" and 256 random bits; only its sha256 is stored (tokens made by
# DRF's authtoken before were migrated the same way: 40 hex characters, no "mint_").
API_TOKEN_KEY_PREFIX = "mint_"  # noqa: S105  (a marker secret scanners can match, not a secret)
API_TOKEN_DEFAULT_NAME = "API token"  # noqa: S105
# An app that asks for a token on every start must not pile up keys: past this many, making a
# token revokes the one used least recently.
API_TOKENS_PER_USER = 50
# last_used_at is written at most this often per token, and only when authentication missed
# the cache: a warm authenticated request costs no query, and the column is right to the hour.
API_TOKEN_LAST_USED_PRECISION = dt.timedelta(hours=1)


@dataclass(frozen=True)
class NewApiToken:
    token: ApiToken
    key: str  # the only time the key exists outside the client: show it once, never store it


def api_token_key_hash(key: str) -> str:
    """What is stored and looked up: a plain digest suffices for a high-entropy random key."""
    return hashlib.sha256(key.encode()).hexdigest()


def api_token_display_prefix(key: str) -> str:
    """The key's first characters: enough to tell tokens apart, far too few to guess the rest."""
    return key[: len(API_TOKEN_KEY_PREFIX) + 6] if key.startswith(API_TOKEN_KEY_PREFIX) else key[:6]


def api_token_create(
    *,
    user: User,
    name: str = "",
    expires_at: dt.datetime | None = None,
    request: HttpRequest | None = None,
) -> NewApiToken:
    """A new token for one device or app; the answer carries the key, which is not kept."""
    key = API_TOKEN_KEY_PREFIX + secrets.token_urlsafe(32)
    with transaction.atomic():
        token = ApiToken.objects.create(
            user=user,
            name=name.strip()[:100] or API_TOKEN_DEFAULT_NAME,
            key_hash=api_token_key_hash(key),
            prefix=api_token_display_prefix(key),
            expires_at=expires_at,
        )
        audit_record(
            action=AuditEvent.Action.TOKEN_CREATED,
            user=user,
            request=request,
            token_id=token.pk,
            name=token.name,
            prefix=token.prefix,
        )
        surplus = (
            ApiToken.objects.filter(user=user)
            .exclude(pk=token.pk)
            .order_by(Coalesce("last_used_at", "created_at").desc(), "-pk")[API_TOKENS_PER_USER - 1 :]
        )
        for old in surplus:
            api_token_revoke(token=old, request=request, reason="limit")
    return NewApiToken(token=token, key=key)


def api_token_revoke(*, token: ApiToken, request: HttpRequest | None = None, reason: str = "revoked") -> bool:
    """Delete the token; False if it was already gone. Its cached sign-in is dropped now and again
    at commit (security.authentication), so the next request with the key is refused."""
    with transaction.atomic():
        deleted, _ = ApiToken.objects.filter(pk=token.pk).delete()
        if deleted:
            audit_record(
                action=AuditEvent.Action.TOKEN_REVOKED,
                user=token.user,
                request=request,
                token_id=token.pk,
                name=token.name,
                prefix=token.prefix,
                reason=reason,
            )
    return bool(deleted)


def api_token_mark_used(*, token: ApiToken, now: dt.datetime | None = None) -> bool:
    """Record that the token was used, at most once per API_TOKEN_LAST_USED_PRECISION.

    False when no row matched: another process marked it first, or the token was revoked
    meanwhile (on PostgreSQL the UPDATE waits for a revocation in progress to commit). The
    caller then reads the token again rather than trusting what it read before.
    """
    now = now or timezone.now()
    stale_before = now - API_TOKEN_LAST_USED_PRECISION
    if token.last_used_at is not None and token.last_used_at > stale_before:
        return True
    updated = (
        ApiToken.objects.filter(pk=token.pk)
        .filter(Q(last_used_at__isnull=True) | Q(last_used_at__lte=stale_before))
        .update(last_used_at=now)
    )
    token.last_used_at = now
    return bool(updated)


# Sign-in limits. Every password or two-factor code check reserves one failure in the address's
# count and in the account's count *before* it runs, and gives it back if the check succeeds:
# so however many attempts arrive at once, no more than the limit are ever checked in a window.
# Fixed windows (aligned to the epoch: whole clock hours for the account) keep the key simple;
# the cost is that a burst may straddle two windows, still at most the limit in each.


class SignInBlocked(Exception):
    """Refused before any password or code was checked: too many failures in this window. The
    message is the same whatever was typed, so it reveals nothing about the password."""

    def __init__(self, *, scope: str, until: dt.datetime, now: dt.datetime) -> None:
        self.scope = scope
        self.until = until
        self.retry_after = max(1, int((until - now).total_seconds()))
        super().__init__(self.message)

    @property
    def message(self) -> str:
        at = timezone.localtime(self.until).strftime("%H:%M %Z")
        if self.scope == SignInFailureCount.Scope.ACCOUNT:
            return (
                f"Too many failed sign-in attempts for this account. Password sign-in is paused until {at}; "
                "you can reset your password now to get back in."
            )
        return f"Too many failed sign-in attempts from your network. Please try again after {at}."


@dataclass(frozen=True)
class _FailureWindow:
    scope: str
    key: str
    start: dt.datetime
    end: dt.datetime
    limit: int


def _window_around(*, scope: str, key: str, now: dt.datetime, seconds: int, limit: int) -> _FailureWindow:
    epoch = int(now.timestamp())
    start = dt.datetime.fromtimestamp(epoch - epoch % seconds, tz=dt.UTC)
    return _FailureWindow(scope=scope, key=key, start=start, end=start + dt.timedelta(seconds=seconds), limit=limit)


def sign_in_address_key(ip: str | None) -> str | None:
    """IPv4 as is; IPv6 by its /64, which one subscriber usually holds whole (counting single
    IPv6 addresses would hand an attacker 2**64 fresh counters)."""
    if not ip:
        return None
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return ip[:150]
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)


def sign_in_account_key(username: str) -> str:
    return username.casefold()[:150]


def _failure_windows(*, username: str, ip: str | None, now: dt.datetime) -> list[_FailureWindow]:
    windows = []
    address = sign_in_address_key(ip)
    if address is not None and settings.LOGIN_IP_MAX_FAILURES > 0:
        windows.append(
            _window_around(
                scope=SignInFailureCount.Scope.IP,
                key=address,
                now=now,
                seconds=settings.LOGIN_IP_WINDOW_SECONDS,
                limit=settings.LOGIN_IP_MAX_FAILURES,
            )
        )
    if settings.LOGIN_ACCOUNT_MAX_FAILURES > 0:  # 0 turns the account limit off, as for the address
        windows.append(
            _window_around(
                scope=SignInFailureCount.Scope.ACCOUNT,
                key=sign_in_account_key(username),
                now=now,
                seconds=settings.LOGIN_ACCOUNT_WINDOW_SECONDS,
                limit=settings.LOGIN_ACCOUNT_MAX_FAILURES,
            )
        )
    return windows


def _window_rows(window: _FailureWindow) -> QuerySet[SignInFailureCount]:
    return SignInFailureCount.objects.filter(scope=window.scope, key=window.key, window_start=window.start)


def _failure_reserve(window: _FailureWindow) -> bool:
    """One more failure in the window, if it stays within the limit. The conditional UPDATE is
    atomic on both databases: PostgreSQL re-checks the condition on the row a concurrent
    UPDATE left, SQLite runs one writer at a time."""

    def increment() -> int:
        return _window_rows(window).filter(failures__lt=window.limit).update(failures=F("failures") + 1)

    if increment():
        return True
    if _window_rows(window).exists():
        return False  # at the limit
    SignInFailureCount.objects.bulk_create(
        [SignInFailureCount(scope=window.scope, key=window.key, window_start=window.start)], ignore_conflicts=True
    )
    return bool(increment())


def _failure_release(window: _FailureWindow) -> None:
    _window_rows(window).filter(failures__gt=0).update(failures=F("failures") - 1)


def _user_named(username: str) -> User | None:
    """The user a sign-in names, matched as ModelBackend matches it."""
    return User._default_manager.filter(username=username).first()


@dataclass(frozen=True)
class SignInAttempt:
    """Failures reserved for one check. Kept if the check fails; `succeeded()` gives them back."""

    windows: tuple[_FailureWindow, ...]

    def succeeded(self) -> None:
        for window in self.windows:
            _failure_release(window)


def sign_in_attempt_start(
    *, username: str, request: HttpRequest | None, now: dt.datetime | None = None
) -> SignInAttempt:
    """Reserve a failure in the address's count and in the account's, or raise SignInBlocked.

    The first refusal in a window is recorded (LOGIN_BLOCKED); the ones after it are not, so a
    flood of refused attempts writes no audit rows.
    """
    now = now or timezone.now()
    reserved: list[_FailureWindow] = []
    for window in _failure_windows(username=username, ip=client_ip(request) if request else None, now=now):
        if _failure_reserve(window):
            reserved.append(window)
            continue
        for earlier in reserved:
            _failure_release(earlier)
        if _window_rows(window).filter(blocked_at__isnull=True).update(blocked_at=now):
            audit_record(
                action=AuditEvent.Action.LOGIN_BLOCKED,
                user=_user_named(username),
                request=request,
                scope=window.scope,
                until=window.end.isoformat(),
            )
        raise SignInBlocked(scope=window.scope, until=window.end, now=now)
    return SignInAttempt(windows=tuple(reserved))


def sign_in_check_password(
    *, request: HttpRequest, username: str, password: str, now: dt.datetime | None = None
) -> User | None:
    """authenticate(), within the limits: the user, or None for a wrong username or password
    (Django's user_login_failed signal records that). Raises SignInBlocked."""
    attempt = sign_in_attempt_start(username=username, request=request, now=now)
    user = authenticate(request, username=username, password=password)
    if user is not None:
        attempt.succeeded()
    return user  # type: ignore[return-value]


def sign_in_check_code(*, request: HttpRequest, user: User, code: str, now: dt.datetime | None = None) -> bool:
    """The second step of a sign-in: a code from the authenticator app or a recovery code, within
    the same limits as passwords. Raises SignInBlocked or TwoFactorThrottled."""
    attempt = sign_in_attempt_start(username=user.get_username(), request=request, now=now)
    try:
        verified = two_factor_code_verify(user=user, code=code, request=request, now=now)
    except TwoFactorThrottled:
        attempt.succeeded()  # nothing was checked
        raise
    if verified:
        attempt.succeeded()
    else:
        audit_record(action=AuditEvent.Action.LOGIN_FAILED, user=user, request=request, step="code")
    return verified


@dataclass(frozen=True)
class ApiSignIn:
    """The token endpoint's answer: a user, or the field to blame and why."""

    user: User | None
    field: str = ""
    error: str = ""


API_SIGN_IN_WRONG = "Unable to log in with provided credentials."  # DRF's own words, kept for existing clients
API_SIGN_IN_CODE_NEEDED = (
    "This account uses two-factor sign-in: send the current code from the authenticator app, "
    "or a recovery code, as `otp`."
)


def sign_in_for_api_token(
    *, request: HttpRequest, username: str, password: str, code: str = "", now: dt.datetime | None = None
) -> ApiSignIn:
    """Password and, for a user with two-factor sign-in, the code, in one request: one attempt
    against the limits. Raises SignInBlocked."""
    attempt = sign_in_attempt_start(username=username, request=request, now=now)
    user: User | None = authenticate(request, username=username, password=password)  # type: ignore[assignment]
    if user is None:
        return ApiSignIn(user=None, field="non_field_errors", error=API_SIGN_IN_WRONG)
    if two_factor_is_enabled(user=user):
        if not code.strip():
            attempt.succeeded()  # the password was right and no code was tried: not a failure
            return ApiSignIn(user=None, field="otp", error=API_SIGN_IN_CODE_NEEDED)
        try:
            verified = two_factor_code_verify(user=user, code=code, request=request, now=now)
        except TwoFactorThrottled as throttled:
            attempt.succeeded()
            return ApiSignIn(user=None, field="otp", error=throttled.message)
        if not verified:
            audit_record(action=AuditEvent.Action.LOGIN_FAILED, user=user, request=request, step="code")
            return ApiSignIn(user=None, field="otp", error="That code is not right.")
    attempt.succeeded()
    audit_record(action=AuditEvent.Action.LOGIN, user=user, request=request, via="api_token")
    return ApiSignIn(user=user)


def identity_confirm(
    *, request: HttpRequest, user: User, secret: str, allow_code: bool = True, now: dt.datetime | None = None
) -> bool:
    """A signed-in user proves it is them (before turning two-factor off, or making new recovery
    codes) with their password or a code. Within the sign-in limits: a stolen session must not
    become a way to guess the password. Raises SignInBlocked."""
    attempt = sign_in_attempt_start(username=user.get_username(), request=request, now=now)
    verified = user.check_password(secret)
    if not verified and allow_code and two_factor_is_enabled(user=user):
        try:
            verified = two_factor_code_verify(user=user, code=secret, request=request, now=now)
        except TwoFactorThrottled:
            verified = False
    if verified:
        attempt.succeeded()
    return verified


def sign_in_failures_clear(*, user: User) -> None:
    """Forget the account's failures, in every window (after a password reset)."""
    SignInFailureCount.objects.filter(
        scope=SignInFailureCount.Scope.ACCOUNT, key=sign_in_account_key(user.get_username())
    ).delete()


def sign_in_failures_prune(*, now: dt.datetime | None = None) -> int:
    """Delete counts whose window ended more than a day ago; the number deleted."""
    now = now or timezone.now()
    longest = max(settings.LOGIN_ACCOUNT_WINDOW_SECONDS, settings.LOGIN_IP_WINDOW_SECONDS)
    cutoff = now - dt.timedelta(seconds=longest) - dt.timedelta(days=1)
    deleted, _ = SignInFailureCount.objects.filter(window_start__lt=cutoff).delete()
    return deleted


# Passwords: reset and change (Django's views do the work; these record it).


def password_reset_requested(*, user: User, request: HttpRequest) -> None:
    audit_record(action=AuditEvent.Action.PASSWORD_RESET_REQUESTED, user=user, request=request)


def _api_tokens_revoke_all(*, user: User, request: HttpRequest, reason: str) -> None:
    """Every app signed in as the user is signed out, as every other browser is."""
    for token in ApiToken.objects.filter(user=user).select_related("user"):
        api_token_revoke(token=token, request=request, reason=reason)


def password_reset_completed(*, user: User, request: HttpRequest) -> None:
    """The owner of the email address chose a new password: whoever was guessing the old one
    no longer holds the account locked, and whoever had the old one no longer holds a token."""
    with transaction.atomic():
        sign_in_failures_clear(user=user)
        _api_tokens_revoke_all(user=user, request=request, reason="password reset")
        audit_record(action=AuditEvent.Action.PASSWORD_RESET, user=user, request=request)


def password_changed(*, user: User, request: HttpRequest) -> None:
    with transaction.atomic():
        _api_tokens_revoke_all(user=user, request=request, reason="password changed")
        audit_record(action=AuditEvent.Action.PASSWORD_CHANGED, user=user, request=request)


# Two-factor sign-in: a TOTP authenticator app (django-otp) and single-use recovery codes.

RECOVERY_CODE_COUNT = 10
# Crockford's base32: no I, L, O or U, so a code read aloud or copied by hand survives. 16
# characters are 80 random bits.
RECOVERY_CODE_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"
RECOVERY_CODE_LENGTH = 16
_RECOVERY_CODE_HMAC_SALT = "security.RecoveryCode"


class TwoFactorThrottled(Exception):
    """django-otp's back-off after wrong app codes: 1 s, 2 s, 4 s ... doubling with each
    consecutive failure, so the account limit's 100 guesses an hour never become 100 guesses at
    a six-digit code. A recovery code still works meanwhile."""

    def __init__(self, *, until: dt.datetime) -> None:
        self.until = until
        super().__init__(self.message)

    @property
    def message(self) -> str:
        seconds = max(1, int((self.until - timezone.now()).total_seconds()))
        wait = f"{seconds} seconds" if seconds < 120 else f"{seconds // 60} minutes"
        return f"Too many wrong codes in a row. Wait {wait}, or use a recovery code."


def two_factor_is_enabled(*, user: User) -> bool:
    return TOTPDevice.objects.filter(user=user, confirmed=True).exists()


def two_factor_setup_device(*, user: User) -> TOTPDevice:
    """The not-yet-confirmed device a set-up page shows (the same one until it is confirmed)."""
    device = TOTPDevice.objects.filter(user=user, confirmed=False).order_by("pk").first()
    return device or TOTPDevice.objects.create(user=user, name="Authenticator app", confirmed=False)


def two_factor_secret(*, device: TOTPDevice) -> str:
    """The key as people type it into an app: base32, in groups of four."""
    secret = base64.b32encode(device.bin_key).decode().rstrip("=")
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


def _code_normalize(code: str) -> str:
    return "".join(code.split()).replace("-", "").lower()


def _totp_verify(*, user: User, token: str, confirmed: bool = True) -> bool:
    """One check of an app code. The device row is locked, so two requests with the same code
    cannot both pass: django-otp accepts only a time step after the last one used (last_t)."""
    with transaction.atomic():
        device = TOTPDevice.objects.select_for_update().filter(user=user, confirmed=confirmed).order_by("pk").first()
        if device is None:
            return False
        allowed, why = device.verify_is_allowed()
        if not allowed:
            raise TwoFactorThrottled(until=(why or {}).get("locked_until") or timezone.now())
        return bool(device.verify_token(token))


def two_factor_code_verify(
    *, user: User, code: str, request: HttpRequest | None = None, now: dt.datetime | None = None
) -> bool:
    """A six-digit app code or a recovery code (recorded as RECOVERY_CODE_USED, then spent).
    Raises TwoFactorThrottled for an app code during django-otp's back-off."""
    normalized = _code_normalize(code)
    if len(normalized) == 6 and normalized.isdigit():
        return _totp_verify(user=user, token=normalized)
    if recovery_code_use(user=user, code=normalized, now=now):
        audit_record(action=AuditEvent.Action.RECOVERY_CODE_USED, user=user, request=request)
        return True
    return False


def two_factor_enable(*, user: User, code: str, request: HttpRequest | None = None) -> list[str] | None:
    """Turn two-factor sign-in on once the new app shows the right code: the recovery codes, to
    be shown once, or None for a wrong code."""
    try:
        verified = _totp_verify(user=user, token=_code_normalize(code), confirmed=False)
    except TwoFactorThrottled:
        return None
    if not verified:
        return None
    with transaction.atomic():
        device = TOTPDevice.objects.select_for_update().filter(user=user, confirmed=False).order_by("pk").first()
        if device is None:
            return None  # turned on meanwhile, in another tab
        TOTPDevice.objects.filter(user=user).exclude(pk=device.pk).delete()
        device.confirmed = True
        device.save(update_fields=["confirmed"])
        codes = _recovery_codes_replace(user=user)
        audit_record(action=AuditEvent.Action.TWO_FACTOR_ENABLED, user=user, request=request)
    return codes


def two_factor_disable(*, user: User, request: HttpRequest | None = None) -> None:
    with transaction.atomic():
        TOTPDevice.objects.filter(user=user).delete()
        RecoveryCode.objects.filter(user=user).delete()
        audit_record(action=AuditEvent.Action.TWO_FACTOR_DISABLED, user=user, request=request)


def recovery_codes_regenerate(*, user: User, request: HttpRequest | None = None) -> list[str]:
    """New codes (shown once); the old ones stop working."""
    with transaction.atomic():
        codes = _recovery_codes_replace(user=user)
        audit_record(action=AuditEvent.Action.RECOVERY_CODES_REGENERATED, user=user, request=request)
    return codes


def recovery_codes_left(*, user: User) -> int:
    return RecoveryCode.objects.filter(user=user, used_at__isnull=True).count()


def _recovery_code_digest(*, salt: str, code: str, secret: str) -> str:
    return salted_hmac(_RECOVERY_CODE_HMAC_SALT, f"{salt}:{code}", secret=secret, algorithm="sha256").hexdigest()


def _recovery_codes_replace(*, user: User) -> list[str]:
    codes = [
        "".join(secrets.choice(RECOVERY_CODE_ALPHABET) for _ in range(RECOVERY_CODE_LENGTH))
        for _ in range(RECOVERY_CODE_COUNT)
    ]
    RecoveryCode.objects.filter(user=user).delete()
    salts = [secrets.token_hex(16) for _ in codes]
    digests = [
        _recovery_code_digest(salt=salt, code=code, secret=settings.SECRET_KEY)
        for salt, code in zip(salts, codes, strict=True)
    ]
    RecoveryCode.objects.bulk_create(
        RecoveryCode(user=user, salt=salt, digest=digest) for salt, digest in zip(salts, digests, strict=True)
    )
    return ["-".join(code[i : i + 4] for i in range(0, RECOVERY_CODE_LENGTH, 4)) for code in codes]


def recovery_code_use(*, user: User, code: str, now: dt.datetime | None = None) -> bool:
    """Spend one unused code; True once per code, even for two requests at the same moment (the
    UPDATE only matches a row not yet used). SECRET_KEY_FALLBACKS are tried too, so rotating the
    key does not void the codes."""
    normalized = _code_normalize(code).translate(str.maketrans("oil", "011"))
    if len(normalized) != RECOVERY_CODE_LENGTH:
        return False
    keys = [settings.SECRET_KEY, *getattr(settings, "SECRET_KEY_FALLBACKS", [])]
    for row in RecoveryCode.objects.filter(user=user, used_at__isnull=True):
        if any(
            constant_time_compare(row.digest, _recovery_code_digest(salt=row.salt, code=normalized, secret=key))
            for key in keys
        ):
            return bool(
                RecoveryCode.objects.filter(pk=row.pk, used_at__isnull=True).update(used_at=now or timezone.now())
            )
    return False
