import pytest
from nicegui.testing import User

from tests.simulated import sign_up, submit_login
from web.core import backend


async def test_signed_out_visitor_lands_on_login_and_returns_after_signing_in(user: User) -> None:
    await submit_login(user, 'alice', 'correct horse', path='/call/abc')
    await user.should_see('Signed in as alice')
    await user.should_see('This call is not available here.')


async def test_new_account_lands_on_the_dashboard(user: User) -> None:
    await sign_up(user, 'alice')
    await user.should_see('Online now')
    await user.should_see('Nobody else is online yet')
    await user.should_see('Log out')
    await user.should_see('Switch account')


async def test_usernames_follow_the_rules(user: User) -> None:
    await submit_login(user, 'Al', 'correct horse')
    await user.should_see('Usernames are 3–32 characters')


async def test_short_password_is_refused(user: User) -> None:
    await submit_login(user, 'alice', 'short')
    await user.should_see('at least 8 characters')


async def test_name_taken_ignoring_case(user: User, create_user) -> None:
    await sign_up(user, 'alice')
    other = create_user()
    await submit_login(other, 'ALICE', 'correct horse')
    await other.should_see('That username is taken.')


async def test_wrong_credentials_do_not_say_which_part(user: User, create_user) -> None:
    await sign_up(user, 'alice')
    for name, password in (('alice', 'wrong password'), ('nobody', 'correct horse')):
        other = create_user()
        await submit_login(other, name, password, 'Sign in')
        await other.should_see('Wrong username or password.')


async def test_log_out_returns_to_sign_in(user: User) -> None:
    await sign_up(user, 'alice')
    user.find('Log out').click()
    await user.should_see('Sign in')
    await user.should_not_see('Signed in as alice')


async def test_with_signup_closed_create_account_is_refused_visibly(
    user: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(backend().settings, 'signup', 'closed')
    await submit_login(user, 'alice', 'correct horse')
    await user.should_see('New accounts are made by the administrator here.')
    await user.should_not_see('Signed in as alice')
