"""Accounts: name and password rules, argon2id hashes, sign-in sessions, and limits on guessing and sign-ups."""

import asyncio
import logging
import re
import secrets
from collections.abc import Collection, Hashable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal, NamedTuple

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy.exc import IntegrityError

from .. import observe
from ..clock import Clock, LoopClock
from ..ratelimit import FailureLockout, Limits, RateLimiter, address_key, wait_text
from .db import SessionInfo, Store, UserRow, hash_token

log = logging.getLogger('voiceconnect')

NAME_PATTERN = re.compile(r'[A-Za-z0-9_.-]{3,32}')  # unique ignoring case
MIN_PASSWORD_LENGTH = 8
MAX_PASSWORD_LENGTH = 1024
WRONG_CREDENTIALS = 'Wrong username or password.'
# the same words whether the name exists or not, and whether the name or the address is locked
TOO_MANY_ATTEMPTS = 'Too many attempts. Try again in {wait}.'
TOO_MANY_SIGNUPS = 'Too many new accounts from your network. Try again in {wait}.'
SIGN_IN_WINDOW_S = 60.0
NAME_CEILING_WINDOW_S = 3600.0  # SIGNIN_FAILURES_PER_HOUR_PER_NAME
SIGN_UP_WINDOW_S = 3600.0
TOUCH_S = 60.0  # a session in use is marked so at most this often (a write per session a minute, not per look)
SessionEnd = Literal['revoked', 'session_expired']
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

    lockout: FailureLockout[Any]
    key: Hashable
    who: str  # for the log: `for alice from 203.0.113.9`, `from 203.0.113.9`
    forgiven: bool  # a success forgives the key's failures (not for a key that strangers share)


def _shown(name: str) -> str:
    """A typed name as it may appear in a log line: quoted and cut short unless it is a valid name."""
    return name if NAME_PATTERN.fullmatch(name) else repr(name[:40])


def _moment(timestamp: float) -> datetime:
    return datetime.fromtimestamp(timestamp, UTC)


class Accounts:
    """`address` is the client address the attempt came from; None (scripts, tests) skips the per-address limits.
    Password hashes are made and checked in a thread: at argon2's cost, on the event loop they would stall every
    page of the process for tens of milliseconds per sign-in.

    Sign-in limits (OWASP's "device cookie" scheme, as Synapse and Mattermost limit per address first): every
    attempt counts per address (a success too: each costs an argon2 check); failures lock the address, and the
    name *from that address*, so a stranger's failures never lock the owner out; and across all addresses a far
    higher ceiling per name slows distributed guessing, but never for a browser the name signed in on before
    (`known_browser`), so even then the owner's own browser is not locked out.

    Sessions end `session_idle_s` after they were last in use, `session_max_age_s` after the sign-in, when the
    password changes or the account goes, and beyond `sessions_per_user` (the oldest)."""

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
        self.clock = clock or LoopClock()
        self.limits = limits = limits or Limits()
        max_lock_s = limits.signin_lockout_max_s
        self.attempts_by_address: RateLimiter[str] = RateLimiter(
            limits.signin_attempts_per_minute_per_address, SIGN_IN_WINDOW_S, self.clock
        )
        self.failures_by_name_and_address: FailureLockout[tuple[str, str]] = FailureLockout(
            limits.signin_failures_per_minute, SIGN_IN_WINDOW_S, self.clock, max_lock_s=max_lock_s
        )
        self.failures_by_name: FailureLockout[str] = FailureLockout(
            limits.signin_failures_per_hour_per_name,
            NAME_CEILING_WINDOW_S,
            self.clock,
            max_lock_s=max_lock_s,
            first_lock_s=SIGN_IN_WINDOW_S,
        )
        self.failures_by_address: FailureLockout[str] = FailureLockout(
            limits.signin_failures_per_minute_per_address, SIGN_IN_WINDOW_S, self.clock, max_lock_s=max_lock_s
        )
        self.signups_by_address: RateLimiter[str] = RateLimiter(
            limits.signups_per_hour_per_address, SIGN_UP_WINDOW_S, self.clock
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

    async def sign_in(
        self, name: str, password: str, address: str | None = None, known_browser: bool = False
    ) -> SignedIn:
        """Attempts are limited per address; failures per address, per name from that address, and per name from
        everywhere unless `known_browser` (the name signed in on this browser before). While any of them is locked,
        even the right password is refused, with the same message, and nothing is hashed."""
        name = name.strip()
        self._count_attempt(address)
        guards = self._sign_in_guards(name, address, known_browser)
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
        for guard in guards:  # one success forgives nothing that strangers share (an address, the name's ceiling)
            (guard.lockout.succeeded if guard.forgiven else guard.lockout.released)(guard.key)
        return await self._open_session(user.id, user.name)

    async def resume(self, token: str) -> str | None:
        """The account name a stored session token belongs to, or None if it was signed out or has expired. The
        session is in use from now (see `check_sessions`)."""
        found, ended = await self._look([token], in_use=[token])
        return None if token in ended else found[token].name

    async def session_ended(self, token: str) -> SessionEnd | None:
        """Why this session may no longer act (`revoked`: signed out by a new password, the account's removal or
        too many newer sessions; `session_expired`: too old or unused too long), or None while it may."""
        return (await self.check_sessions([token])).get(token)

    async def check_sessions(self, tokens: Collection[str], in_use: Collection[str] = ()) -> dict[str, SessionEnd]:
        """One look at the store for all these sessions: those that ended, with why (an expired one is deleted).
        The sessions `in_use` (a tab or program connected to them) are marked as used now, at most once a minute."""
        return (await self._look(tokens, in_use))[1]

    async def _look(
        self, tokens: Collection[str], in_use: Collection[str]
    ) -> tuple[dict[str, SessionInfo], dict[str, SessionEnd]]:
        if not tokens:
            return {}, {}
        now = self.clock.now()
        digests = {token: hash_token(token) for token in tokens}
        stored = await self.store.sessions_by_hash(set(digests.values()))
        found = {token: stored[digest] for token, digest in digests.items() if digest in stored}
        ended: dict[str, SessionEnd] = {token: 'revoked' for token in tokens if token not in found}
        ended |= {token: 'session_expired' for token, session in found.items() if self._expired(session, now)}
        if expired := [digests[token] for token, why in ended.items() if why == 'session_expired']:
            await self.store.delete_sessions(expired)
        touch_every_s = min(TOUCH_S, self.limits.session_idle_s / 10)
        used = {
            digests[token]
            for token in in_use
            if token in found and token not in ended and now - found[token].last_seen.timestamp() >= touch_every_s
        }
        if used:
            await self.store.touch_sessions(used, _moment(now))
        return found, ended

    async def forget_expired_sessions(self) -> int:
        """Delete every session that is too old or unused too long (nobody will resume it); returns how many."""
        now = self.clock.now()
        created_before = _moment(now - self.limits.session_max_age_s)
        return await self.store.delete_sessions_older_than(created_before, _moment(now - self.limits.session_idle_s))

    def _expired(self, session: SessionInfo, now: float) -> bool:
        too_old = now - session.created.timestamp() >= self.limits.session_max_age_s
        return too_old or now - session.last_seen.timestamp() >= self.limits.session_idle_s

    async def sign_out(self, token: str) -> None:
        await self.store.delete_session(token)

    # administration (python -m voiceconnect.admin): no rate limits, the operator is trusted

    async def set_password(self, name: str, password: str) -> None:
        """Raises AccountError if there is no such user; the user's sessions end."""
        user = await self._existing(name)
        password_hash = await asyncio.to_thread(self.hasher.hash, check_password(password))
        await self.store.set_password_hash(user.id, password_hash)

    async def remove(self, name: str) -> None:
        """Raises AccountError if there is no such user. Its sessions end; a new account of the name starts afresh."""
        await self.store.remove_user((await self._existing(name)).id, _moment(self.clock.now()))

    async def names(self) -> list[str]:
        return [user.name for user in await self.store.list_users()]

    async def _existing(self, name: str) -> UserRow:
        user = await self.store.find_user(name.strip())
        if user is None:
            raise AccountError(f'There is no user {_shown(name.strip())}.')
        return user

    # rate limits

    def _count_attempt(self, address: str | None) -> None:
        """Every attempt from an address counts, a successful one too: each costs an argon2 check."""
        self._count_per_address(self.attempts_by_address, address, 'sign_in', 'sign-in attempts', TOO_MANY_ATTEMPTS)

    def _count_per_address(
        self, limiter: RateLimiter[str], address: str | None, limit: str, what: str, too_many: str
    ) -> None:
        """One more of `what` from this address (None: a script or test, not limited), or AccountError."""
        if not address:
            return
        key = address_key(address)
        if (limited := limiter.hit(key)) is not None:
            observe.notify('rate_limited', limit=limit)
            if limited.report:
                log.warning('⚠️ Rate limited: %s from %s (retry in %s)', what, key, limited.wait)
            raise AccountError(too_many.format(wait=limited.wait))

    def _sign_in_guards(self, name: str, address: str | None, known_browser: bool) -> list[_Guard]:
        """The name's guard from this address first, then the name's ceiling (unless the browser is known to the
        name), then the address's (if known)."""
        name_key = name.casefold()[:MAX_NAME_KEY]
        where = address_key(address) if address else ''
        shown = f'for {_shown(name)}'
        here = _Guard(
            self.failures_by_name_and_address, (name_key, where), f'{shown} from {where}' if where else shown, True
        )
        guards = [here]
        if not known_browser:
            guards.append(_Guard(self.failures_by_name, name_key, f'{shown} from any address', False))
        if where:
            guards.append(_Guard(self.failures_by_address, where, f'from {where}', False))
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
        self._count_per_address(self.signups_by_address, address, 'sign_up', 'sign-ups', TOO_MANY_SIGNUPS)

    async def _open_session(self, user_id: int, name: str) -> SignedIn:
        token = secrets.token_urlsafe(32)
        await self.store.add_session(token, user_id, _moment(self.clock.now()), keep=self.limits.sessions_per_user)
        return SignedIn(name=name, token=token)
