"""Accounts on a real SQLite file: name and password rules, argon2id hashes, sign-in, sessions."""

from pathlib import Path

import pytest
from sqlalchemy import select

from voiceconnect.accounts import WRONG_CREDENTIALS, AccountError, Accounts
from voiceconnect.store import SessionRow, Store, UserRow

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


@pytest.mark.parametrize('password', ['', 'short', '1234567'])
async def test_passwords_under_eight_characters_are_refused(accounts: Accounts, password: str) -> None:
    with pytest.raises(AccountError, match='at least 8'):
        await accounts.create('alice', password)


async def test_an_eight_character_password_is_enough(accounts: Accounts) -> None:
    assert await accounts.create('alice', '12345678')


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
    await accounts.sign_out(signed_in.token)
    await accounts.sign_out(signed_in.token)


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
