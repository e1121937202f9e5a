"""Accounts: name and password rules, argon2id hashes, sign-in sessions, and limits on guessing and sign-ups."""

import asyncio
import logging
import re
import secrets
from dataclasses import dataclass
from typing import NamedTuple

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy.exc import IntegrityError

from . import observe
from .clock import Clock, LoopClock
from .ratelimit import FailureLockout, Limits, RateLimiter, address_key, wait_text
from .store import Store, UserRow

log = logging.getLogger('voiceconnect')

NAME_PATTERN = re.compile(r'[A-Za-z0-9_.-]{3,32}')  # unique ignoring case
MIN_PASSWORD_LENGTH = 8
MAX_PASSWORD_LENGTH = 1024
WRONG_CREDENTIALS = 'Wrong username or password.'
# the same words whether the name exists or not, and whether the name or the address is locked
TOO_MANY_ATTEMPTS = 'Too many attempts. Try again in {wait}.'
TOO_MANY_SIGNUPS = 'Too many new accounts from your network. Try again in {wait}.'
SIGN_IN_WINDOW_S = 60.0
SIGN_UP_WINDOW_S = 3600.0
MAX_NAME_KEY = 64  # longer names are invalid anyway; their keys need not cost more memory


def production_hasher() -> PasswordHasher:
    """argon2id with the library's recommended parameters."""
    return PasswordHasher()


PASSWORD_HASHER = production_hasher()  # what Accounts uses unless given another (tests use a cheap one)


class AccountError(ValueError):
    """A message meant for the person at the sign-in form."""


@dataclass(frozen=True)
class SignedIn:
    name: str
    token: str


def check_name(name: str) -> str:
    if not NAME_PATTERN.fullmatch(name):
        raise AccountError('Usernames are 3–32 characters: letters a–z, digits, _ . and -.')
    return name


def check_password(password: str) -> str:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(f'Passwords need at least {MIN_PASSWORD_LENGTH} characters.')
    if len(password) > MAX_PASSWORD_LENGTH:
        raise AccountError(f'Passwords may have at most {MAX_PASSWORD_LENGTH} characters.')
    return password


def _verify(hasher: PasswordHasher, password_hash: str, password: str) -> bool:
    try:
        return hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


class _Guard(NamedTuple):
    """One limit a sign-in attempt counts against."""

    lockout: FailureLockout[str]
    key: str
    who: str  # for the log: `for alice` or `from 203.0.113.9`


def _shown(name: str) -> str:
    """A typed name as it may appear in a log line: quoted and cut short unless it is a valid name."""
    return name if NAME_PATTERN.fullmatch(name) else repr(name[:40])


class Accounts:
    """`address` is the client address the attempt came from; None (scripts, tests) skips the per-address limits.
    Password hashes are made and checked in a thread: at argon2's cost, on the event loop they would stall every
    page of the process for tens of milliseconds per sign-in."""

    def __init__(
        self,
        store: Store,
        clock: Clock | None = None,
        limits: Limits | None = None,
        hasher: PasswordHasher | None = None,
    ) -> None:
        self.store = store
        self.hasher = hasher or PASSWORD_HASHER
        # verifying against this keeps unknown names as slow as wrong passwords, so timing reveals nothing
        self._dummy_hash = self.hasher.hash(secrets.token_hex(8))
        clock = clock or LoopClock()
        limits = limits or Limits()
        max_lock_s = limits.signin_lockout_max_s
        self.failures_by_name: FailureLockout[str] = FailureLockout(
            limits.signin_failures_per_minute, SIGN_IN_WINDOW_S, clock, max_lock_s=max_lock_s
        )
        self.failures_by_address: FailureLockout[str] = FailureLockout(
            limits.signin_failures_per_minute_per_address, SIGN_IN_WINDOW_S, clock, max_lock_s=max_lock_s
        )
        self.signups_by_address: RateLimiter[str] = RateLimiter(
            limits.signups_per_hour_per_address, SIGN_UP_WINDOW_S, clock
        )

    async def create(self, name: str, password: str, address: str | None = None) -> SignedIn:
        name, password = check_name(name.strip()), check_password(password)
        self._count_signup(address)
        if await self.store.find_user(name) is not None:
            raise AccountError('That username is taken.')
        password_hash = await asyncio.to_thread(self.hasher.hash, password)
        try:
            user = await self.store.add_user(name, password_hash)
        except IntegrityError as error:  # the unique index catches a race between two sign-ups
            raise AccountError('That username is taken.') from error
        return await self._open_session(user.id, user.name)

    async def sign_in(self, name: str, password: str, address: str | None = None) -> SignedIn:
        """Failures are limited per name (existing or not) and per address; while either is locked, even the
        right password is refused, with the same message."""
        name = name.strip()
        guards = self._sign_in_guards(name, address)
        self._begin_sign_in(guards)
        try:
            user = await self.store.find_user(name)
            password_hash = user.password_hash if user else self._dummy_hash
            ok = await asyncio.to_thread(_verify, self.hasher, password_hash, password)
        except BaseException:
            for guard in guards:
                guard.lockout.released(guard.key)
            raise
        if user is None or not ok:
            observe.notify('sign_in_failed')
            self._count_sign_in_failure(guards)
            raise AccountError(WRONG_CREDENTIALS)
        by_name, *by_address = guards
        by_name.lockout.succeeded(by_name.key)
        for guard in by_address:  # an address may be shared by many people: one success forgives nothing there
            guard.lockout.released(guard.key)
        return await self._open_session(user.id, user.name)

    async def resume(self, token: str) -> str | None:
        """The account name a stored session token belongs to, or None if it was signed out."""
        user = await self.store.user_of_session(token)
        return user.name if user else None

    async def sign_out(self, token: str) -> None:
        await self.store.delete_session(token)

    # administration (python -m voiceconnect.admin): no rate limits, the operator is trusted

    async def set_password(self, name: str, password: str) -> None:
        """Raises AccountError if there is no such user; the user's sessions end."""
        user = await self._existing(name)
        password_hash = await asyncio.to_thread(self.hasher.hash, check_password(password))
        await self.store.set_password_hash(user.id, password_hash)

    async def remove(self, name: str) -> None:
        """Raises AccountError if there is no such user."""
        await self.store.remove_user((await self._existing(name)).id)

    async def names(self) -> list[str]:
        return [user.name for user in await self.store.list_users()]

    async def _existing(self, name: str) -> UserRow:
        user = await self.store.find_user(name.strip())
        if user is None:
            raise AccountError(f'There is no user {_shown(name.strip())}.')
        return user

    # rate limits

    def _sign_in_guards(self, name: str, address: str | None) -> list[_Guard]:
        """The name's guard first, then the address's (if known)."""
        guards = [_Guard(self.failures_by_name, name.casefold()[:MAX_NAME_KEY], f'for {_shown(name)}')]
        if address:
            key = address_key(address)
            guards.append(_Guard(self.failures_by_address, key, f'from {key}'))
        return guards

    def _begin_sign_in(self, guards: list[_Guard]) -> None:
        for number, guard in enumerate(guards):
            if (limited := guard.lockout.begin(guard.key)) is not None:
                observe.notify('rate_limited', limit='sign_in')
                for earlier in guards[:number]:
                    earlier.lockout.released(earlier.key)
                raise AccountError(TOO_MANY_ATTEMPTS.format(wait=limited.wait))

    def _count_sign_in_failure(self, guards: list[_Guard]) -> None:
        waits = []
        for guard in guards:
            if (lock := guard.lockout.failed(guard.key)) is not None:
                log.warning('⚠️ Rate limited: sign-in failures %s (retry in %s)', guard.who, lock.wait)
                waits.append(lock.retry_after_s)
        if waits:  # say so now: the next attempt would be refused anyway
            raise AccountError(TOO_MANY_ATTEMPTS.format(wait=wait_text(max(waits))))

    def _count_signup(self, address: str | None) -> None:
        if not address:
            return
        key = address_key(address)
        if (limited := self.signups_by_address.hit(key)) is not None:
            observe.notify('rate_limited', limit='sign_up')
            if limited.report:
                log.warning('⚠️ Rate limited: sign-ups from %s (retry in %s)', key, limited.wait)
            raise AccountError(TOO_MANY_SIGNUPS.format(wait=limited.wait))

    async def _open_session(self, user_id: int, name: str) -> SignedIn:
        token = secrets.token_urlsafe(32)
        await self.store.add_session(token, user_id)
        return SignedIn(name=name, token=token)
