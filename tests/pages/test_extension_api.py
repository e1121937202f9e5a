"""The README's extension example (examples/status_page.py) works with the page author API."""

from nicegui import ui
from nicegui.testing import User

import examples.status_page  # noqa: F401 - registers /status, as a team's own main.py would
from tests.simulated import click_call, sign_up


async def test_status_page_follows_presence_and_calls(user: User, create_user) -> None:
    await sign_up(user, 'alice')
    await user.open('/status')
    await user.should_see('alice is free')
    await user.should_see('Online: nobody else')

    bob = create_user()
    await sign_up(bob, 'bob')
    await user.should_see('Online: bob')

    await bob.should_see('Call alice')
    click_call(bob, 'alice')
    await user.should_see('alice is in a call with bob')
    await user.should_see('Incoming call')  # the app's own chrome rings on an extension page too
    await bob.should_see('Calling alice…')
    bob.find(kind=ui.button, content='Cancel').click()
    await user.should_see('alice is free')
