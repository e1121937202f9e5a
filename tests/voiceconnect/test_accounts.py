"""Accounts on a real SQLite file: name and password rules, argon2id hashes, sign-in, sessions."""

import asyncio
import logging
from pathlib import Path
from typing import Any

import pytest
from argon2 import PasswordHasher
from sqlalchemy import select, update
from sqlalchemy.exc import OperationalError

from voiceconnect.clock import FakeClock
from voiceconnect.people import accounts as accounts_module
from voiceconnect.people.accounts import WRONG_CREDENTIALS, AccountError, Accounts
from voiceconnect.people.db import SessionRow, Store, UserRow
from voiceconnect.ratelimit import Limits

PASSWORD = 'correct horse'


@pytest.fixture
def accounts(store: Store) -> Accounts:
    return Accounts(store)


@pytest.mark.parametrize('name', ['bob', 'alice_1', 'a.b-c', '007', 'x' * 32, 'Alice'])
async def test_valid_names_can_register(accounts: Accounts, name: str) -> None:
    signed_in = await accounts.create(name, PASSWORD)
    assert signed_in.name == name
    assert signed_in.token


@pytest.mark.parametrize(
    'name', ['ab', 'x' * 33, 'al ice', 'alice!', 'élodie', 'bob@home', '', 'a/b', 'a\nb'], ids=repr
)
async def test_invalid_names_are_refused(accounts: Accounts, name: str) -> None:
    with pytest.raises(AccountError, match='3–32 characters'):
        await accounts.create(name, PASSWORD)


async def test_surrounding_spaces_are_ignored(accounts: Accounts) -> None:
    assert (await accounts.create('  carol ', PASSWORD)).name == 'carol'


async def test_a_taken_name_is_refused(accounts: Accounts) -> None:
    await accounts.create('alice', PASSWORD)
    with pytest.raises(AccountError, match='taken'):
        await accounts.create('alice', 'another password')


async def test_names_are_unique_ignoring_case(accounts: Accounts, store: Store) -> None:
    await accounts.create('alice', PASSWORD)
    with pytest.raises(AccountError, match='taken'):
        await accounts.create('ALICE', PASSWORD)
    assert (await store.find_user('Alice')) is not None


async def test_two_sign_ups_racing_for_one_name_give_one_account(
    accounts: Accounts, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    await accounts.create('alice', PASSWORD)

    async def not_found(name: str) -> None:  # the other sign-up checked before this one wrote its row
        return None

    monkeypatch.setattr(store, 'find_user', not_found)
    with pytest.raises(AccountError, match='taken'):
        await accounts.create('alice', PASSWORD)


async def test_a_database_failure_at_sign_up_is_not_called_a_taken_name(
    accounts: Accounts, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def disk_full(name: str, password_hash: str) -> None:
        raise OperationalError('INSERT INTO users', {}, Exception('database or disk is full'))

    monkeypatch.setattr(store, 'add_user', disk_full)
    with pytest.raises(OperationalError):
        await accounts.create('alice', PASSWORD)


@pytest.mark.parametrize('password', ['', 'short', '1234567'])
async def test_passwords_under_eight_characters_are_refused(accounts: Accounts, password: str) -> None:
    with pytest.raises(AccountError, match='at least 8'):
        await accounts.create('alice', password)


async def test_an_eight_character_password_is_enough(accounts: Accounts) -> None:
    assert await accounts.create('alice', '12345678')


async def test_the_app_hashes_at_argon2s_recommended_cost() -> None:
    """Tests swap in a cheap hasher (tests/conftest.py); the app itself must not."""
    production = accounts_module.production_hasher()
    recommended = PasswordHasher()
    assert (production.time_cost, production.memory_cost, production.parallelism, production.type) == (
        recommended.time_cost,
        recommended.memory_cost,
        recommended.parallelism,
        recommended.type,
    )


async def test_passwords_are_stored_as_argon2id_hashes(accounts: Accounts, store: Store) -> None:
    await accounts.create('alice', PASSWORD)
    user = await store.find_user('alice')
    assert user is not None
    assert user.password_hash.startswith('$argon2id$')
    assert PASSWORD not in user.password_hash


async def test_sign_in_with_the_right_password(accounts: Accounts) -> None:
    await accounts.create('alice', PASSWORD)
    signed_in = await accounts.sign_in('alice', PASSWORD)
    assert signed_in.name == 'alice'


async def test_sign_in_ignores_the_case_of_the_name(accounts: Accounts) -> None:
    await accounts.create('alice', PASSWORD)
    assert (await accounts.sign_in(' Alice ', PASSWORD)).name == 'alice'


async def test_wrong_password_and_unknown_user_get_the_same_message(accounts: Accounts) -> None:
    await accounts.create('alice', PASSWORD)
    with pytest.raises(AccountError) as wrong_password:
        await accounts.sign_in('alice', 'wrong password')
    with pytest.raises(AccountError) as unknown_user:
        await accounts.sign_in('mallory', PASSWORD)
    assert str(wrong_password.value) == str(unknown_user.value) == WRONG_CREDENTIALS


async def test_the_message_does_not_say_which_part_was_wrong(accounts: Accounts) -> None:
    with pytest.raises(AccountError) as error:
        await accounts.sign_in('mallory', PASSWORD)
    assert 'username or password' in str(error.value).lower()


async def test_each_sign_in_gets_its_own_session(accounts: Accounts) -> None:
    first = await accounts.create('alice', PASSWORD)
    second = await accounts.sign_in('alice', PASSWORD)
    assert first.token != second.token


async def test_a_session_resumes_until_signed_out(accounts: Accounts) -> None:
    signed_in = await accounts.create('alice', PASSWORD)
    assert await accounts.resume(signed_in.token) == 'alice'
    await accounts.sign_out(signed_in.token)
    assert await accounts.resume(signed_in.token) is None


async def test_signing_out_one_session_keeps_the_others(accounts: Accounts) -> None:
    laptop = await accounts.create('alice', PASSWORD)
    phone = await accounts.sign_in('alice', PASSWORD)
    await accounts.sign_out(laptop.token)
    assert await accounts.resume(phone.token) == 'alice'


async def test_an_unknown_token_resumes_nobody(accounts: Accounts) -> None:
    assert await accounts.resume('made-up') is None


async def test_signing_out_twice_is_harmless(accounts: Accounts) -> None:
    signed_in = await accounts.create('alice', PASSWORD)
    other = await accounts.sign_in('alice', PASSWORD)
    await accounts.sign_out(signed_in.token)
    await accounts.sign_out(signed_in.token)
    assert await accounts.resume(signed_in.token) is None
    assert await accounts.resume(other.token) == 'alice'  # the second sign-out touched no other session


async def test_the_database_holds_no_live_session_token(accounts: Accounts, store: Store) -> None:
    signed_in = await accounts.create('alice', PASSWORD)
    async with store.sessions() as db:
        stored = list(await db.scalars(select(SessionRow.token_hash)))
    assert stored
    assert signed_in.token not in stored


async def test_accounts_survive_a_restart(tmp_path: Path) -> None:
    url = f'sqlite+aiosqlite:///{tmp_path}/t.db'
    first = Store(url)
    await first.create_schema()
    token = (await Accounts(first).create('alice', PASSWORD)).token
    await first.close()
    second = Store(url)
    await second.create_schema()  # idempotent at every start
    try:
        assert await Accounts(second).resume(token) == 'alice'
        assert (await Accounts(second).sign_in('alice', PASSWORD)).name == 'alice'
    finally:
        await second.close()


async def test_the_user_row_keeps_the_name_and_a_case_folded_key(store: Store) -> None:
    await store.add_user('Mixed', '$argon2id$fake')
    async with store.sessions() as db:
        row = await db.scalar(select(UserRow))
    assert row is not None
    assert (row.name, row.name_key) == ('Mixed', 'mixed')


# rate limits: sign-in failures per name and per address, sign-ups per address

HOME, OFFICE = '198.51.100.7', '203.0.113.9'


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def limited(store: Store, clock: FakeClock) -> Accounts:
    accounts = Accounts(store, clock, Limits())
    await accounts.create('alice', PASSWORD)
    await accounts.create('bob', PASSWORD)
    return accounts


async def attempt(accounts: Accounts, name: str, password: str, address: str | None = HOME) -> str:
    """What the sign-in form would show: `signed in` or the error message."""
    try:
        await accounts.sign_in(name, password, address=address)
    except AccountError as error:
        return str(error)
    return 'signed in'


async def test_the_fifth_wrong_password_in_a_minute_locks_the_name_for_a_minute(limited: Accounts) -> None:
    said = [await attempt(limited, 'alice', 'wrong password') for _ in range(5)]
    assert said == [WRONG_CREDENTIALS] * 4 + ['Too many attempts. Try again in 60 s.']


async def test_a_locked_name_refuses_even_the_right_password_from_that_address_with_the_same_message(
    limited: Accounts, clock: FakeClock
) -> None:
    for _ in range(5):
        await attempt(limited, 'alice', 'wrong password')
    await clock.advance(30)
    assert await attempt(limited, 'alice', PASSWORD) == 'Too many attempts. Try again in 30 s.'
    await clock.advance(30)
    assert await attempt(limited, 'alice', PASSWORD) == 'signed in'


async def test_a_strangers_failures_never_lock_the_owner_out_from_her_own_address(limited: Accounts) -> None:
    """Issue 18 (lockout abuse): anyone could lock a named account so that even the right password was refused.
    The name's lock counts failures per (name, address): Mallory locks only herself."""
    said = [await attempt(limited, 'alice', 'guess', address=OFFICE) for _ in range(6)]
    assert said == [WRONG_CREDENTIALS] * 4 + ['Too many attempts. Try again in 60 s.'] * 2
    assert await attempt(limited, 'alice', PASSWORD, address=OFFICE) == 'Too many attempts. Try again in 60 s.'
    assert await attempt(limited, 'alice', PASSWORD, address=HOME) == 'signed in'


async def test_another_person_is_not_affected_by_a_locked_name(limited: Accounts) -> None:
    for _ in range(5):
        await attempt(limited, 'alice', 'wrong password')
    assert await attempt(limited, 'bob', PASSWORD) == 'signed in'  # even from the same address


async def test_names_that_do_not_exist_lock_the_same_way_so_locks_reveal_nobody(limited: Accounts) -> None:
    for name in ('alice', 'mallory'):
        said = [await attempt(limited, name, 'wrong password') for _ in range(6)]
        assert said == [WRONG_CREDENTIALS] * 4 + ['Too many attempts. Try again in 60 s.'] * 2


async def test_the_lock_is_on_the_name_ignoring_case_and_spaces(limited: Accounts) -> None:
    for name in ('alice', 'Alice', 'ALICE', ' alice ', 'aLiCe'):
        await attempt(limited, name, 'wrong password')
    assert await attempt(limited, 'alice', PASSWORD) == 'Too many attempts. Try again in 60 s.'


async def test_after_a_lock_each_further_failure_doubles_the_wait(limited: Accounts, clock: FakeClock) -> None:
    for _ in range(5):
        await attempt(limited, 'alice', 'wrong password')
    said = []
    for wait in (60, 120, 240, 480, 900):
        await clock.advance(wait)
        said.append(await attempt(limited, 'alice', 'wrong password'))
    assert said == [
        f'Too many attempts. Try again in {wait}.' for wait in ('2 min', '4 min', '8 min', '15 min', '15 min')
    ]


async def test_signing_in_forgives_the_names_earlier_failures(limited: Accounts) -> None:
    for _ in range(4):
        await attempt(limited, 'alice', 'wrong password')
    assert await attempt(limited, 'alice', PASSWORD) == 'signed in'
    said = [await attempt(limited, 'alice', 'wrong password') for _ in range(4)]
    assert said == [WRONG_CREDENTIALS] * 4


async def test_twenty_failures_from_one_address_lock_that_address_for_every_name(limited: Accounts) -> None:
    for number in range(19):
        assert await attempt(limited, f'guess{number}', 'wrong password') == WRONG_CREDENTIALS
    assert await attempt(limited, 'guess19', 'wrong password') == 'Too many attempts. Try again in 60 s.'
    assert await attempt(limited, 'bob', PASSWORD) == 'Too many attempts. Try again in 60 s.'
    assert await attempt(limited, 'bob', PASSWORD, address=OFFICE) == 'signed in'


async def test_addresses_of_one_ipv6_64_share_their_limit(limited: Accounts) -> None:
    said = [
        await attempt(limited, f'guess{n}', 'wrong password', address=f'2001:db8:7:7::{n + 1:x}') for n in range(20)
    ]
    assert said == [WRONG_CREDENTIALS] * 19 + ['Too many attempts. Try again in 60 s.']
    assert await attempt(limited, 'bob', PASSWORD, address='2001:db8:7:8::1') == 'signed in'


async def test_a_success_does_not_forgive_a_shared_address(limited: Accounts) -> None:
    for number in range(19):
        await attempt(limited, f'guess{number}', 'wrong password')
    assert await attempt(limited, 'bob', PASSWORD) == 'signed in'
    assert await attempt(limited, 'guess19', 'wrong password') == 'Too many attempts. Try again in 60 s.'


async def test_parallel_guesses_cannot_slip_past_the_limit(limited: Accounts) -> None:
    said = await asyncio.gather(*(attempt(limited, 'alice', f'guess {n}') for n in range(10)))
    assert said.count(WRONG_CREDENTIALS) == 4
    assert said.count('Too many attempts. Try again in 60 s.') == 1  # the fifth checked guess locked the name
    assert said.count('Too many attempts. Try again in 1 s.') == 5  # these were never checked


async def test_sign_in_locks_are_logged_once_each(limited: Accounts, logs: pytest.LogCaptureFixture) -> None:
    for _ in range(8):
        await attempt(limited, 'alice', 'wrong password')
    for number in range(20):
        await attempt(limited, f'guess{number}', 'wrong password', address=OFFICE)
    await attempt(limited, 'al\nice', 'wrong password')
    assert [r.getMessage() for r in logs.records if 'Rate limited' in r.getMessage()] == [
        '⚠️ Rate limited: sign-in failures for alice from 198.51.100.7 (retry in 60 s)',
        '⚠️ Rate limited: sign-in failures from 203.0.113.9 (retry in 60 s)',
    ]
    assert all(r.levelno == logging.WARNING for r in logs.records if 'Rate limited' in r.getMessage())


async def test_a_hostile_name_in_a_lock_log_line_is_quoted(limited: Accounts, logs: pytest.LogCaptureFixture) -> None:
    for _ in range(5):
        await attempt(limited, 'al\nice', 'wrong password')
    assert "⚠️ Rate limited: sign-in failures for 'al\\nice' from 198.51.100.7 (retry in 60 s)" in logs.messages


async def test_the_eleventh_account_in_an_hour_from_one_address_is_refused(
    limited: Accounts, clock: FakeClock, logs: pytest.LogCaptureFixture
) -> None:
    for number in range(10):
        await limited.create(f'user{number}', PASSWORD, address=HOME)
    with pytest.raises(AccountError, match=r'^Too many new accounts from your network\. Try again in 6 min\.$'):
        await limited.create('user10', PASSWORD, address=HOME)
    assert await limited.store.find_user('user10') is None
    assert (await limited.create('user10', PASSWORD, address=OFFICE)).name == 'user10'
    await clock.advance(360)
    assert (await limited.create('user11', PASSWORD, address=HOME)).name == 'user11'
    assert '⚠️ Rate limited: sign-ups from 198.51.100.7 (retry in 6 min)' in logs.messages


async def test_sign_ups_that_break_the_name_rules_do_not_count(limited: Accounts) -> None:
    for _ in range(20):
        with pytest.raises(AccountError, match='3–32 characters'):
            await limited.create('x', PASSWORD, address=HOME)
    assert (await limited.create('carol', PASSWORD, address=HOME)).name == 'carol'


async def test_sign_ups_per_hour_is_a_setting(store: Store, clock: FakeClock) -> None:
    accounts = Accounts(store, clock, Limits(signups_per_hour_per_address=1))
    await accounts.create('alice', PASSWORD, address=HOME)
    with pytest.raises(AccountError, match='Try again in 60 min'):
        await accounts.create('bob', PASSWORD, address=HOME)


async def test_sign_in_failures_per_minute_is_a_setting(store: Store, clock: FakeClock) -> None:
    accounts = Accounts(store, clock, Limits(signin_failures_per_minute=2, signin_lockout_max_s=90))
    await accounts.create('alice', PASSWORD)
    said = [await attempt(accounts, 'alice', 'wrong password') for _ in range(2)]
    assert said == [WRONG_CREDENTIALS, 'Too many attempts. Try again in 60 s.']
    await clock.advance(60)
    assert await attempt(accounts, 'alice', 'wrong password') == 'Too many attempts. Try again in 90 s.'


async def test_without_an_address_only_the_name_is_limited(limited: Accounts) -> None:
    for number in range(30):
        assert await attempt(limited, f'guess{number}', 'wrong password', address=None) == WRONG_CREDENTIALS


async def test_guessing_one_name_from_many_addresses_is_slowed_but_the_owners_browser_still_signs_in(
    store: Store, clock: FakeClock, logs: pytest.LogCaptureFixture
) -> None:
    """Distributed guessing: past SIGNIN_FAILURES_PER_HOUR_PER_NAME the name is locked (60 s, doubling) for every
    browser it never signed in on; the browser it signed in on before (`known_browser`) is not held back."""
    accounts = Accounts(store, clock, Limits(signin_failures_per_hour_per_name=10))
    await accounts.create('alice', PASSWORD)
    said = [await attempt(accounts, 'alice', 'guess', address=f'203.0.113.{n}') for n in range(10)]
    assert said == [WRONG_CREDENTIALS] * 9 + ['Too many attempts. Try again in 60 s.']
    assert await attempt(accounts, 'alice', PASSWORD, address=HOME) == 'Too many attempts. Try again in 60 s.'
    signed_in = await accounts.sign_in('alice', PASSWORD, address=HOME, known_browser=True)
    assert signed_in.name == 'alice'
    assert '⚠️ Rate limited: sign-in failures for alice from any address (retry in 60 s)' in logs.messages
    await clock.advance(60)
    assert await attempt(accounts, 'alice', 'guess', address='203.0.113.99') == 'Too many attempts. Try again in 2 min.'


async def test_every_sign_in_attempt_counts_per_address_a_successful_one_too(
    store: Store, clock: FakeClock, logs: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 18: successful sign-ins were never limited, and each is an argon2 check (~50 ms of CPU)."""
    accounts = Accounts(store, clock, Limits())
    await accounts.create('alice', PASSWORD)
    checks: list[int] = []
    verify = accounts_module._verify

    def counted(*args: Any) -> bool:
        checks.append(1)
        return verify(*args)

    monkeypatch.setattr(accounts_module, '_verify', counted)
    said = [await attempt(accounts, 'alice', PASSWORD) for _ in range(31)]
    assert said == ['signed in'] * 30 + ['Too many attempts. Try again in 2 s.']
    assert len(checks) == 30  # the refused one cost no hash
    assert await attempt(accounts, 'alice', PASSWORD, address=OFFICE) == 'signed in'
    await clock.advance(2)
    assert await attempt(accounts, 'alice', PASSWORD) == 'signed in'
    assert '⚠️ Rate limited: sign-in attempts from 198.51.100.7 (retry in 2 s)' in logs.messages


async def test_sign_in_attempts_per_address_is_a_setting(store: Store, clock: FakeClock) -> None:
    accounts = Accounts(store, clock, Limits(signin_attempts_per_minute_per_address=2))
    await accounts.create('alice', PASSWORD)
    said = [await attempt(accounts, 'alice', PASSWORD) for _ in range(3)]
    assert said == ['signed in', 'signed in', 'Too many attempts. Try again in 30 s.']


# sessions: idle and absolute expiry, at most SESSIONS_PER_USER

DAY = 24 * 3600.0


async def test_a_session_not_in_use_for_the_idle_time_ends(store: Store, clock: FakeClock) -> None:
    accounts = Accounts(store, clock, Limits(session_idle_s=DAY, session_max_age_s=30 * DAY))
    token = (await accounts.create('alice', PASSWORD)).token
    for _ in range(5):  # in use every 23 hours: it lives on
        await clock.advance(DAY - 3600)
        assert await accounts.resume(token) == 'alice'
    await clock.advance(DAY)
    assert await accounts.resume(token) is None
    assert await store.session_of(token) is None  # and it is gone from the store


async def test_a_session_ends_at_its_maximum_age_even_in_use(store: Store, clock: FakeClock) -> None:
    accounts = Accounts(store, clock, Limits(session_idle_s=DAY, session_max_age_s=3 * DAY))
    token = (await accounts.create('alice', PASSWORD)).token
    for _ in range(5):
        await clock.advance(DAY / 2 - 1)
        assert await accounts.resume(token) == 'alice'
    assert await accounts.session_ended(token) is None
    await clock.advance(DAY / 2 + 5)
    assert await accounts.session_ended(token) == 'session_expired'
    assert await accounts.resume(token) is None


async def test_the_defaults_are_a_week_idle_and_thirty_days_in_all(store: Store, clock: FakeClock) -> None:
    limits = Limits()
    assert (limits.session_idle_s, limits.session_max_age_s, limits.sessions_per_user) == (7 * DAY, 30 * DAY, 20)


async def test_a_user_has_at_most_sessions_per_user_and_the_oldest_go(store: Store, clock: FakeClock) -> None:
    accounts = Accounts(store, clock, Limits(sessions_per_user=3))
    tokens = [(await accounts.create('alice', PASSWORD)).token]
    bobs = (await accounts.create('bob', PASSWORD)).token
    for _ in range(3):
        await clock.advance(1)
        tokens.append((await accounts.sign_in('alice', PASSWORD)).token)
    assert [await accounts.resume(token) for token in tokens] == [None, 'alice', 'alice', 'alice']
    assert await accounts.session_ended(tokens[0]) == 'revoked'
    assert await accounts.resume(bobs) == 'bob'  # another user's sessions are their own


async def test_a_new_password_or_the_accounts_removal_revokes_its_sessions(store: Store, clock: FakeClock) -> None:
    accounts = Accounts(store, clock, Limits())
    alice = (await accounts.create('alice', PASSWORD)).token
    bob = (await accounts.create('bob', PASSWORD)).token
    await accounts.set_password('alice', 'a new password')
    await accounts.remove('bob')
    assert (await accounts.check_sessions([alice, bob])) == {alice: 'revoked', bob: 'revoked'}


async def test_sessions_in_use_are_marked_so_and_forgotten_ones_are_deleted(store: Store, clock: FakeClock) -> None:
    accounts = Accounts(store, clock, Limits(session_idle_s=DAY))
    used = (await accounts.create('alice', PASSWORD)).token
    unused = (await accounts.sign_in('alice', PASSWORD)).token
    for _ in range(3):
        await clock.advance(DAY / 2)
        assert await accounts.check_sessions([used], in_use=[used]) == {}
    assert await accounts.forget_expired_sessions() == 1
    assert await store.session_of(unused) is None
    assert await accounts.resume(used) == 'alice'


async def test_a_database_made_before_session_expiry_gets_its_columns_and_keeps_its_sessions(tmp_path: Path) -> None:
    """Existing installs: `sessions` had no `last_seen`, `user_state` no `history_since`; start-up adds them."""
    import sqlite3

    path = tmp_path / 'old.db'
    with sqlite3.connect(path) as db:
        db.executescript("""
            CREATE TABLE users (id INTEGER PRIMARY KEY, name VARCHAR(32), name_key VARCHAR(32) UNIQUE,
                                password_hash VARCHAR(200), created DATETIME);
            CREATE TABLE sessions (token_hash VARCHAR(64) PRIMARY KEY, user_id INTEGER REFERENCES users(id),
                                   created DATETIME);
            CREATE TABLE user_state (name VARCHAR(32) PRIMARY KEY, do_not_disturb BOOLEAN, missed_seen DATETIME);
        """)
    old = Store(f'sqlite+aiosqlite:///{path}')
    await old.create_schema()
    try:
        accounts = Accounts(old)
        signed_in = await accounts.create('alice', PASSWORD)
        async with old.sessions() as db:
            await db.execute(update(SessionRow).values(last_seen=None))  # as a session of the old version
            await db.commit()
        assert await accounts.resume(signed_in.token) == 'alice'
        await Store(f'sqlite+aiosqlite:///{path}').create_schema()  # a second start finds nothing to change
    finally:
        await old.close()
