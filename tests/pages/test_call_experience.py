"""Recent calls, missed calls, anyone by name, do not disturb: what people see on their pages (simulated users)."""

import asyncio
from collections.abc import Callable

import pytest
from nicegui import ui
from nicegui.testing import User

from pages import format
from pages.missed_notice import headline
from pages.people_list import PeopleList
from pages.recent_calls import RecentCalls
from tests.simulated import alice_sees_bob, click_call, ring, sign_up
from voiceconnect.calls.machine import CallState, EndReason
from voiceconnect.calls.views import CallView

R = EndReason


async def sign_in(user: User, name: str, password: str = 'correct horse') -> None:
    await user.open('/login')
    await user.should_see('Username')
    user.find('Username').type(name)
    user.find('Password').type(password)
    user.find(kind=ui.button, content='Sign in').click()
    await user.should_see(f'Signed in as {name}', retries=20)


def switch_of(user: User) -> ui.switch:
    return next(e for e in user.find('Do not disturb').elements if isinstance(e, ui.switch))


async def eventually(condition: Callable[[], bool], what: str, timeout: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, f'not so within {timeout} s: {what}'
        await asyncio.sleep(0.02)


async def test_a_finished_call_appears_in_both_peoples_recent_calls_at_once_and_call_back_calls(
    user: User, create_user
) -> None:
    bob = await alice_sees_bob(user, create_user)
    await user.should_see('No calls yet.')
    await ring(user, 'bob')
    await bob.should_see('Incoming call')
    await bob.should_see('No calls yet.')
    bob.find('Decline').click()
    await bob.should_see('Declined')  # bob stays on the dashboard: the row arrives without a reload
    await bob.should_see('Incoming · just now')
    await bob.should_see('Call back alice')
    await user.should_see('bob declined', retries=20)
    user.find('Back to dashboard').click()
    await user.should_see('Outgoing · just now')
    await user.should_see('Declined')

    user.find(kind=RecentCalls, content='Call back bob').trigger('call', 'bob')
    await user.should_see('Calling bob…', retries=20)
    await bob.should_see('Incoming call')


async def test_missed_calls_count_until_seen_in_every_tab_and_stay_seen(user: User, create_user) -> None:
    bob = await alice_sees_bob(user, create_user)
    bob_laptop = create_user()
    await sign_in(bob_laptop, 'bob')
    click_call(user, 'bob')
    await bob.should_see('Incoming call')
    await user.should_see('Calling bob…', retries=20)
    user.find(kind=ui.button, content='Cancel').click()
    for tab in (bob, bob_laptop):
        await tab.should_see('1 missed')
    await bob.should_see('Missed')  # the row in Recent calls

    bob_laptop.find(kind=ui.button, content='1 missed').click()
    for tab in (bob, bob_laptop):
        await tab.should_not_see('1 missed')
    again = create_user()
    await sign_in(again, 'bob')  # the count is stored, not per page
    await again.should_see('Recent calls')
    await again.should_see('Missed')  # the row stays, the count is gone
    await again.should_not_see('1 missed')


async def test_missed_calls_are_one_notice_that_goes_once_they_are_seen_in_another_tab(user: User, create_user) -> None:
    bob = await alice_sees_bob(user, create_user)
    carol = create_user()
    await sign_up(carol, 'carol')
    bob_laptop = create_user()
    await sign_in(bob_laptop, 'bob')
    for caller, missed in ((user, '1 missed'), (carol, '2 missed')):
        await caller.should_see('Call bob')
        click_call(caller, 'bob')
        await caller.should_see('Calling bob…', retries=20)
        caller.find(kind=ui.button, content='Cancel').click()
        await bob.should_see(missed)
        caller.find('Back to dashboard').click()
    for tab in (bob, bob_laptop):  # both rang: both say it, once
        await tab.should_see('2 missed calls: alice, carol')
        assert len(tab.find(marker='missed-notice').elements) == 1
        await tab.should_see(kind=ui.button, content='Call back carol')

    bob_laptop.find(kind=ui.button, content='2 missed').click()
    for tab in (bob, bob_laptop):
        await tab.should_not_see('2 missed calls')
        await tab.should_not_see('2 missed')


@pytest.mark.parametrize(
    ('calls', 'callers', 'said'),
    [
        (1, ['alice'], 'Missed call from alice'),
        (2, ['alice'], '2 missed calls from alice'),
        (2, ['alice', 'carol'], '2 missed calls: alice, carol'),
        (6, ['a', 'b', 'c', 'd', 'e'], '6 missed calls: a, b, c and 2 others'),
        (5, ['a', 'b', 'c', 'd'], '5 missed calls: a, b, c and 1 other'),
    ],
)
def test_the_missed_call_notice_says_how_many_and_who(calls: int, callers: list[str], said: str) -> None:
    assert headline(calls, callers) == said


async def test_search_finds_someone_offline_and_calling_them_leaves_a_missed_call(user: User, create_user) -> None:
    carol = create_user()
    await sign_up(carol, 'carol')
    carol.find('Log out').click()
    await carol.should_see('Username')
    await sign_up(user, 'alice')
    user.find('Search people').type('CAR')
    await user.should_see('Offline')
    await user.should_see(kind=ui.button, content='Call carol')
    user.find(kind=ui.button, content='Call carol').click()
    await user.should_see('carol is offline', retries=20)

    user.find('Back to dashboard').click()
    await user.should_see('Contacts not online')  # people you called are listed while offline
    await user.should_see(kind=ui.button, content='Call carol')
    await user.should_see('Offline')  # the Recent calls row
    back = create_user()
    await sign_in(back, 'carol')
    await back.should_see('1 missed')
    await back.should_see('Missed')


async def test_do_not_disturb_refuses_calls_shows_to_others_and_leaves_missed_calls(user: User, create_user) -> None:
    bob = await alice_sees_bob(user, create_user)
    bob.find('Do not disturb').click()
    await user.should_see(kind=PeopleList, content='Do not disturb')  # in the online list, beside bob
    click_call(user, 'bob')
    await user.should_see('bob is not taking calls', retries=20)
    await bob.should_see('1 missed')
    assert not any(dialog.value for dialog in bob.find(kind=ui.dialog).elements)  # nothing rang

    reopened = create_user()
    await sign_in(reopened, 'bob')  # remembered for the user
    await eventually(lambda: switch_of(reopened).value is True, 'the switch shows do not disturb on')
    reopened.find('Do not disturb').click()
    await eventually(lambda: switch_of(bob).value is False, 'every tab shows the switch as it is')
    user.find('Back to dashboard').click()
    await user.should_see('Online now')
    click_call(user, 'bob')
    await user.should_see('Calling bob…', retries=20)  # rings again


def past(role: str, reason: EndReason, answered: bool = False) -> CallView:
    return CallView(
        id='c1',
        role=role,  # type: ignore[arg-type]
        peer='bob',
        state=CallState.ENDED,
        here=False,
        leg=None,
        answered_at=100.0 if answered else None,
        ended_at=175.0,
        end_reason=reason,
        ended_by_me=False,
        answered_elsewhere=False,
        me_muted=False,
        peer_muted=False,
        created=90.0,
    )


@pytest.mark.parametrize(
    ('role', 'reason', 'answered', 'shown'),
    [
        ('caller', R.COMPLETED, True, '1:15'),
        ('callee', R.CONNECTION_LOST, True, '1:15'),
        ('caller', R.MISSED, False, 'No answer'),
        ('callee', R.MISSED, False, 'Missed'),
        ('callee', R.CANCELLED, False, 'Missed'),
        ('caller', R.CANCELLED, False, 'Cancelled'),
        ('callee', R.OFFLINE, False, 'Missed'),
        ('callee', R.DO_NOT_DISTURB, False, 'Missed'),
        ('caller', R.OFFLINE, False, 'Offline'),
        ('caller', R.DO_NOT_DISTURB, False, 'Not taking calls'),
        ('caller', R.DECLINED, False, 'Declined'),
        ('callee', R.DECLINED, False, 'Declined'),
        ('caller', R.BUSY, False, 'Busy'),
        ('callee', R.BUSY, False, 'Busy'),
        ('caller', R.FAILED, False, 'Failed'),
    ],
)
def test_a_recent_call_shows_its_duration_or_how_it_ended(role: str, reason: EndReason, answered: bool, shown: str):
    assert format.row_outcome(past(role, reason, answered)) == shown


def test_when_is_relative_while_recent_then_a_date() -> None:
    now = 1_700_000_000.0
    assert [format.when(now - s, now) for s in (5, 125, 7300)] == ['just now', '2 min ago', '2 h ago']
    assert format.when(now - 3 * 86400, now)[:4] == '2023'
