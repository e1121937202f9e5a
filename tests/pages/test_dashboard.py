from nicegui.testing import User

from tests.simulated import alice_sees_bob


async def test_users_see_each_other_online_and_can_call(user: User, create_user) -> None:
    bob = await alice_sees_bob(user, create_user)
    await bob.should_see('Call alice')
    user.find('Call bob').click()
    await user.should_see('Calling bob…')
    await bob.should_see('Incoming call')
    await bob.should_see('Accept')


async def test_decline_shows_the_caller_who_declined(user: User, create_user) -> None:
    bob = await alice_sees_bob(user, create_user)
    user.find('Call bob').click()
    await bob.should_see('Incoming call')
    bob.find('Decline').click()
    await user.should_see('bob declined', retries=20)  # alice's call page may still be on its way
    await user.should_see('Back to dashboard')
