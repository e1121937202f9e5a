"""What people see when a rate limit applies: the sign-in lock, the sign-up limit, the call-attempt limit."""

import pytest
from nicegui.testing import User

from tests.simulated import alice_sees_bob, click_call, ring, sign_up, submit_login


@pytest.fixture
def one_sign_up_and_one_call_a_minute(monkeypatch: pytest.MonkeyPatch) -> None:
    """Settings for the app under test: ask for this fixture before `user`, which starts the app."""
    monkeypatch.setenv('VOICECONNECT_SIGNUPS_PER_HOUR_PER_ADDRESS', '2')
    monkeypatch.setenv('VOICECONNECT_CALLS_PER_MINUTE', '1')


async def sign_in_on_a_fresh_page(user: User, name: str, password: str) -> None:
    """A freshly opened sign-in page, so the message seen afterwards is this attempt's."""
    await submit_login(user, name, password, 'Sign in')


async def test_five_wrong_passwords_lock_the_name_and_the_lock_says_how_long(user: User, create_user) -> None:
    await sign_up(user, 'alice')
    bob = create_user()
    await sign_up(bob, 'bob')
    mallory = create_user()
    for _ in range(4):
        await sign_in_on_a_fresh_page(mallory, 'alice', 'wrong password')
        await mallory.should_see('Wrong username or password.')
    await sign_in_on_a_fresh_page(mallory, 'alice', 'wrong password')
    await mallory.should_see('Too many attempts. Try again in 60 s.')

    late_alice = create_user()  # even the right password waits, and is told the same
    await sign_in_on_a_fresh_page(late_alice, 'alice', 'correct horse')
    await late_alice.should_see('Too many attempts. Try again in')
    await late_alice.should_not_see('Signed in as alice')

    await user.should_see('Signed in as alice')  # alice's open tab is not touched
    await bob.should_see('Signed in as bob')  # nor is anyone else's, and others sign in from the same address
    bob_elsewhere = create_user()
    await sign_in_on_a_fresh_page(bob_elsewhere, 'bob', 'correct horse')
    await bob_elsewhere.should_see('Signed in as bob')


async def test_account_creation_per_address_is_limited_with_a_clear_message(
    one_sign_up_and_one_call_a_minute: None, user: User, create_user
) -> None:
    await sign_up(user, 'alice')
    await sign_up(create_user(), 'bob')
    carol = create_user()
    await submit_login(carol, 'carol', 'correct horse')
    await carol.should_see('Too many new accounts from your network. Try again in 30 min.')
    await carol.should_not_see('Signed in as carol')


async def test_calling_too_often_is_refused_with_the_wait(
    one_sign_up_and_one_call_a_minute: None, user: User, create_user
) -> None:
    bob = await alice_sees_bob(user, create_user)
    await ring(user, 'bob')
    await bob.should_see('Incoming call')
    bob.find('Decline').click()
    await user.should_see('bob declined', retries=20)  # alice's call page may still be on its way
    user.find('Back to dashboard').click()
    await user.should_see('Call bob')
    click_call(user, 'bob')
    await user.should_see('You are calling too often. Try again in 60 s.')
    await user.should_not_see('Calling bob…')
