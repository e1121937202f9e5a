"""The call page as people use it: what they click keeps working while the call changes under it."""

from nicegui import ui
from nicegui.testing import User

from tests.simulated import alice_sees_bob, ring


async def test_the_in_call_buttons_stay_the_same_elements_while_the_call_changes(user: User, create_user) -> None:
    """A rebuilt view would replace its buttons: a click on its way while they were replaced was lost silently."""
    bob = await alice_sees_bob(user, create_user)
    await ring(user, 'bob')
    await bob.should_see('Accept')
    bob.find('Accept').click()
    await user.should_see('In call with bob', retries=20)
    hang_up = user.find(kind=ui.button, content='Hang up').elements
    mute = user.find(kind=ui.button, content='Mute').elements

    await bob.should_see('Return to call', retries=20)
    bob.find('Return to call').click()  # (the simulated user does not follow Accept's navigation)
    await bob.should_see(kind=ui.button, content='Mute', retries=20)
    bob.find(kind=ui.button, content='Mute').click()
    await user.should_see('bob is muted')
    user.find(kind=ui.button, content='Mute').click()
    await user.should_see('Unmute')
    await user.should_see('Your microphone is off')

    assert user.find(kind=ui.button, content='Hang up').elements == hang_up
    assert user.find(kind=ui.button, content='Unmute').elements == mute
    user.find(kind=ui.button, content='Hang up').click()
    await user.should_see('Call ended')
    await bob.should_see('Call ended')
