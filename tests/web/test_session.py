"""A tab whose user was signed out by the grace expiry (the browser was away too long) comes back on its own: it
resumes its still valid session in place, or, if the session is gone, shows a complete sign-in page that says
why. Nothing here reads the browser's storage through a request that is not the tab's own."""

import pytest
from nicegui import ui
from nicegui.testing import User

from tests.simulated import click_call, sign_up
from web.core import backend
from web.tabs import TabState, tab_of


def tab_on(user: User) -> TabState:
    tab = tab_of((user.client or pytest.fail('no page')).id)
    assert tab is not None and tab.device is not None
    return tab


async def expire(tab: TabState) -> None:
    """What the grace expiry does when this tab's browser has been away for RECONNECT_GRACE_S (in the simulation
    the socket is back at once, as when a browser returns in the very moment the grace runs out)."""
    switchboard = backend().switchboard
    assert tab.device is not None
    service = next(s for s in switchboard.services.values() if tab.device.id in s.tabs)
    await switchboard.end(service, 'expired')


async def test_back_after_the_grace_the_tab_signs_in_again_in_place(user: User, create_user) -> None:
    await sign_up(user, 'alice')
    await expire(tab_on(user))
    # (bob joins only now: NiceGUI's simulation sends a notification to whichever simulated user was busy last)
    await user.should_see('You were offline for more than 20 s and are signed in again.')
    await user.should_see('Signed in as alice')
    assert tab_on(user).device is not None
    bob = create_user()
    await sign_up(bob, 'bob')
    await bob.should_see('Call alice')  # online again: bob can call her
    click_call(bob, 'alice')
    await user.should_see('Incoming call')


async def test_back_after_the_grace_with_the_session_gone_the_sign_in_page_says_why(user: User) -> None:
    await sign_up(user, 'alice')
    tab = tab_on(user)
    token = tab.browser_storage['accounts']['alice']
    await backend().accounts.sign_out(token)  # e.g. logged out on another device meanwhile
    await expire(tab)
    await user.should_see('You were signed out after 20 s offline. Please sign in again.')
    for field in ('Username', 'Password', 'Sign in', 'Create account'):  # the whole form, not half a page
        await user.should_see(field)
    user.find('Username').type('alice')
    user.find('Password').type('correct horse')
    user.find(kind=ui.button, content='Sign in').click()
    await user.should_see('Signed in as alice')  # no reload needed
