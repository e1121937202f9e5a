"""Accounts: name and password rules, argon2id hashes, sign-in sessions."""

import asyncio
import re
import secrets
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from .store import Store

NAME_PATTERN = re.compile(r'[A-Za-z0-9_.-]{3,32}')  # unique ignoring case
MIN_PASSWORD_LENGTH = 8
MAX_PASSWORD_LENGTH = 1024
WRONG_CREDENTIALS = 'Wrong username or password.'

_hasher = PasswordHasher()  # argon2id with the library's recommended parameters
# verifying against this keeps unknown names as slow as wrong passwords, so timing reveals nothing
_DUMMY_HASH = _hasher.hash(secrets.token_hex(8))


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


def _verify(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


class Accounts:
    def __init__(self, store: Store) -> None:
        self.store = store

    async def create(self, name: str, password: str) -> SignedIn:
        name, password = check_name(name.strip()), check_password(password)
        if await self.store.find_user(name) is not None:
            raise AccountError('That username is taken.')
        password_hash = await asyncio.to_thread(_hasher.hash, password)
        try:
            user = await self.store.add_user(name, password_hash)
        except Exception as error:  # the unique index catches a race between two sign-ups
            raise AccountError('That username is taken.') from error
        return await self._open_session(user.id, user.name)

    async def sign_in(self, name: str, password: str) -> SignedIn:
        user = await self.store.find_user(name.strip())
        ok = await asyncio.to_thread(_verify, user.password_hash if user else _DUMMY_HASH, password)
        if user is None or not ok:
            raise AccountError(WRONG_CREDENTIALS)
        return await self._open_session(user.id, user.name)

    async def resume(self, token: str) -> str | None:
        """The account name a stored session token belongs to, or None if it was signed out."""
        user = await self.store.user_of_session(token)
        return user.name if user else None

    async def sign_out(self, token: str) -> None:
        await self.store.delete_session(token)

    async def _open_session(self, user_id: int, name: str) -> SignedIn:
        token = secrets.token_urlsafe(32)
        await self.store.add_session(token, user_id)
        return SignedIn(name=name, token=token)
