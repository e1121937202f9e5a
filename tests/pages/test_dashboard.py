import asyncio
import json
from collections.abc import Callable
from typing import Any

import pytest
from nicegui.testing import User

from tests.simulated import alice_sees_bob, click_call, ring, sign_up


async def test_users_see_each_other_online_and_can_call(user: User, create_user) -> None:
    bob = await alice_sees_bob(user, create_user)
    await bob.should_see('Call alice')
    click_call(user, 'bob')
    await user.should_see('Calling bob…')
    await bob.should_see('Incoming call')
    await bob.should_see('Accept')


async def test_decline_shows_the_caller_who_declined(user: User, create_user) -> None:
    bob = await alice_sees_bob(user, create_user)
    await ring(user, 'bob')
    await bob.should_see('Incoming call')
    bob.find('Decline').click()
    await user.should_see('bob declined', retries=20)  # alice's call page may still be on its way
    await user.should_see('Back to dashboard', retries=20)  # ('bob declined' may be a notification before it)


def sent_to(user: User) -> list[tuple[str, int]]:
    """From now on, what the user's page is sent: (kind, size in bytes) for each message and element update."""
    outbox, sent = (user.client or pytest.fail('no page')).outbox, []
    enqueue_message, enqueue_update = outbox.enqueue_message, outbox.enqueue_update

    def message(kind: str, data: Any, target: str) -> None:
        sent.append((kind, len(json.dumps(data))))
        enqueue_message(kind, data, target)

    def update(element: Any) -> None:
        sent.append((f'update of {type(element).__name__}', len(json.dumps(element._to_dict(), default=str))))
        enqueue_update(element)

    outbox.enqueue_message, outbox.enqueue_update = message, update  # type: ignore[method-assign,assignment]
    return sent


async def newcomer_arrives(dashboard: User, create_user: Callable[[], User], name: str) -> list[tuple[str, int]]:
    """`name` signs up while the dashboard watches; returns what the dashboard's page was sent for it."""
    newcomer = create_user()
    await newcomer.open('/login')
    await newcomer.should_see('Username')
    sent = sent_to(dashboard)
    newcomer.find('Username').type(name)
    newcomer.find('Password').type('correct horse')
    newcomer.find('Create account').click()
    await dashboard.should_see(f'Call {name}')
    await asyncio.sleep(0.2)  # anything else it would be sent for this arrival
    return list(sent)


@pytest.fixture
def many_sign_ups(monkeypatch: pytest.MonkeyPatch) -> None:
    """Ask for this before `user`, which starts the app: everyone here signs up from the same address."""
    monkeypatch.setenv('VOICECONNECT_SIGNUPS_PER_HOUR_PER_ADDRESS', '100')


async def test_a_presence_change_sends_each_dashboard_one_small_update(
    many_sign_ups: None, user: User, create_user
) -> None:
    """Whether 2 or 12 people are online, someone arriving costs each open dashboard one message of the same size
    (the list's rows are data in the browser; nothing is redrawn on the server)."""
    await sign_up(user, 'alice')
    few = await newcomer_arrives(user, create_user, 'new01')
    for number in range(10):
        await sign_up(create_user(), f'person{number}')
    await user.should_see('Call person9')
    many = await newcomer_arrives(user, create_user, 'new02')
    assert [kind for kind, _ in few] == [kind for kind, _ in many] == ['run_javascript']
    assert few == many


async def test_the_sound_test_is_there_for_everyone(user: User) -> None:
    await sign_up(user, 'alice')
    await user.should_see('Call Sound test')
    await user.should_see('Nobody else is online yet')  # the Sound test is no person online


@pytest.fixture
def sound_test_off(monkeypatch: pytest.MonkeyPatch) -> None:
    """Settings for the app under test: ask for this fixture before `user`, which starts the app."""
    monkeypatch.setenv('VOICECONNECT_SOUND_TEST', 'false')


async def test_with_sound_test_off_there_is_no_sound_test(sound_test_off: None, user: User) -> None:
    await sign_up(user, 'alice')
    await user.should_see('Online now')
    await user.should_not_see('Call Sound test')
