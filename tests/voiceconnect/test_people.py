"""Anyone by name, do not disturb, calls to people who are offline, recent and missed calls: what a person finds
and is told, with the history in a real SQLite store."""

import asyncio
from collections.abc import AsyncIterator

import pytest

from voiceconnect.calls.machine import CallError, CallState, EndReason
from voiceconnect.clock import FakeClock
from voiceconnect.connections.device import Device
from voiceconnect.connections.events import DoNotDisturbSet, MissedCallsSeen, Person, Presence, PresenceChanged
from voiceconnect.connections.memory_hub import InMemoryHub
from voiceconnect.connections.switchboard import Switchboard
from voiceconnect.people.accounts import Accounts
from voiceconnect.people.db import Store
from voiceconnect.people.directory import People
from voiceconnect.people.history import CallHistory
from voiceconnect.settings import Timeouts

from .helpers import GRACE_S, MEDIA_TIMEOUT_S, RING_TIMEOUT_S, FakeTab, log_lines, tab_of, talk

USERS = ['alice', 'bob', 'carol', 'Caroline', 'dave', 'x_y', 'xay']


@pytest.fixture
async def history(store: Store) -> AsyncIterator[CallHistory]:
    for name in USERS:
        await store.add_user(name, 'not a real hash')
    history = CallHistory(store)
    history.start()
    yield history
    await history.stop()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(start=1_700_000_000.0)


@pytest.fixture
def board(clock: FakeClock, history: CallHistory, store: Store) -> Switchboard:
    timeouts = Timeouts(ring_timeout_s=RING_TIMEOUT_S, reconnect_grace_s=GRACE_S, media_timeout_s=MEDIA_TIMEOUT_S)
    return Switchboard(clock, InMemoryHub(), history, timeouts, people=People(store))


async def sign_in(board: Switchboard, user: str, browser: str = '') -> Device:
    browser = browser or f'{user}-browser'
    service = await board.service_for(browser, user, f'token-{user}-{browser}')
    return await board.attach(service, f'{user}-{browser}-tab{len(board.devices)}', FakeTab())


async def written(history: CallHistory) -> None:
    """Wait until the history wrote what it was given (it writes after a short quiet moment)."""
    await history.stop()
    history.start()


def presence_heard(device: Device, name: str) -> list[Presence]:
    events = tab_of(device).events
    return [c.presence for e in events if isinstance(e, PresenceChanged) for c in e.changes if c.name == name]


async def test_do_not_disturb_ends_calls_at_once_as_missed_calls_shows_everywhere_and_is_remembered(
    board: Switchboard, history: CallHistory, logs: pytest.LogCaptureFixture
) -> None:
    alice, bob = await sign_in(board, 'alice'), await sign_in(board, 'bob')
    bob_phone = await sign_in(board, 'bob', browser='phone')
    await bob.set_do_not_disturb(True)
    assert presence_heard(alice, 'bob') == [Presence.ONLINE, Presence.DO_NOT_DISTURB]
    assert next(p for p in alice.online_users() if p.name == 'bob').presence == Presence.DO_NOT_DISTURB
    assert DoNotDisturbSet(True) in tab_of(bob_phone).events

    view = await alice.call_user('bob')
    assert (view.state, view.end_reason) == (CallState.ENDED, EndReason.DO_NOT_DISTURB)
    assert all(not v.ringing_here for tab in (bob, bob_phone) for v in tab_of(tab).views)  # rang nowhere
    assert [v.missed for v in tab_of(bob).views] == [True]
    assert '🔕 Call not taken (do not disturb): alice → bob' in log_lines(logs)

    for device in (bob, bob_phone):  # offline, then back: still not taking calls
        await board.end(board._service_of[device.id], 'logout')
    bob = await sign_in(board, 'bob')
    assert presence_heard(alice, 'bob')[-2:] == [Presence.OFFLINE, Presence.DO_NOT_DISTURB]
    assert await bob.do_not_disturb()
    assert (await alice.call_user('bob')).end_reason == EndReason.DO_NOT_DISTURB

    await bob.set_do_not_disturb(False)
    assert presence_heard(alice, 'bob')[-1] == Presence.ONLINE
    assert (await alice.call_user('bob')).state == CallState.RINGING
    await written(history)
    assert await bob.missed_calls() == 2


async def test_a_call_to_someone_offline_is_a_missed_call_they_find_at_sign_in(
    board: Switchboard, history: CallHistory, logs: pytest.LogCaptureFixture
) -> None:
    alice = await sign_in(board, 'alice')
    view = await alice.call_user('carol')
    assert (view.state, view.end_reason, view.peer) == (CallState.ENDED, EndReason.OFFLINE, 'carol')
    assert '💤 Call to someone offline: alice → carol' in log_lines(logs)
    await written(history)

    carol, carol_phone = await sign_in(board, 'carol'), await sign_in(board, 'carol', browser='phone')
    assert await carol.missed_calls() == 1
    [row] = await carol.recent_calls()
    assert (row.peer, row.role, row.end_reason, row.missed, row.answered_at) == (
        'alice',
        'callee',
        EndReason.OFFLINE,
        True,
        None,
    )
    await carol.mark_missed_calls_seen()
    assert MissedCallsSeen() in tab_of(carol_phone).events
    assert await carol_phone.missed_calls() == 0


async def test_calling_a_name_nobody_has_is_refused(board: Switchboard) -> None:
    alice = await sign_in(board, 'alice')
    with pytest.raises(CallError, match='nobody called zoe'):
        await alice.call_user('zoe')
    with pytest.raises(CallError, match='nobody called caroline'):  # names as spelled: `Caroline`'s missed calls
        await alice.call_user('caroline')


async def test_busy_comes_before_do_not_disturb(board: Switchboard) -> None:
    alice, bob, carol = await sign_in(board, 'alice'), await sign_in(board, 'bob'), await sign_in(board, 'carol')
    await talk(alice, bob)
    await bob.set_do_not_disturb(True)
    assert presence_heard(carol, 'bob') == [Presence.IN_CALL]  # in a call, they show as in a call
    assert (await carol.call_user('bob')).end_reason == EndReason.BUSY


async def test_people_are_found_by_name_prefix_ignoring_case_online_or_not(board: Switchboard) -> None:
    alice, _ = await sign_in(board, 'alice'), await sign_in(board, 'carol')
    assert await alice.find_people('car') == [Person('carol', Presence.ONLINE), Person('Caroline', Presence.OFFLINE)]
    assert await alice.find_people('CAROLI') == [Person('Caroline', Presence.OFFLINE)]
    assert await alice.find_people('a') == []  # never yourself
    assert await alice.find_people('x_') == [Person('x_y', Presence.OFFLINE)]  # `_` is a letter, not a wildcard
    assert await alice.find_people('%') == []
    assert await alice.find_people('  ') == []


async def test_recent_calls_newest_first_in_pages_and_contacts_include_offline_people(
    board: Switchboard, history: CallHistory, clock: FakeClock
) -> None:
    alice, bob = await sign_in(board, 'alice'), await sign_in(board, 'bob')
    placed = []
    for _ in range(5):
        placed.append(await talk(alice, bob))
        await alice.hang_up(placed[-1])
        await clock.advance(60)
    placed.append((await alice.call_user('dave')).id)  # offline
    await written(history)
    newest = await alice.recent_calls(limit=4)
    assert [v.id for v in newest] == placed[::-1][:4]
    older = await alice.recent_calls(limit=4, before=newest[-1].created)
    assert [v.id for v in older] == placed[::-1][4:]
    assert [v.role for v in newest[:2]] == ['caller', 'caller']
    assert [p.name for p in await alice.contacts()] == ['bob', 'dave']
    assert [p.presence for p in await alice.contacts()] == [Presence.ONLINE, Presence.OFFLINE]
    assert await bob.missed_calls() == 0


async def test_a_name_removed_and_made_again_starts_with_no_history_and_no_do_not_disturb(
    board: Switchboard, history: CallHistory, store: Store, clock: FakeClock
) -> None:
    """Issue 18: `admin remove-user` and then re-adding the name inherited the old account's recent calls, missed
    count, contacts and do not disturb."""
    alice, bob = await sign_in(board, 'alice'), await sign_in(board, 'bob')
    await alice.hang_up(await talk(alice, bob))
    await bob.set_do_not_disturb(True)
    await alice.call_user('bob')  # a missed call: bob does not take calls
    await written(history)
    assert (len(await bob.recent_calls()), await bob.missed_calls(), [p.name for p in await bob.contacts()]) == (
        2,
        1,
        ['alice'],
    )
    old_call = (await bob.recent_calls())[-1].id

    await board.end(board._service_of[bob.id], 'revoked')  # what the session sweep does once the rows are gone
    accounts = Accounts(store, clock)
    await accounts.remove('bob')
    await clock.advance(60)
    await accounts.create('bob', 'another password')
    new_bob = await sign_in(board, 'bob', browser='new-laptop')
    assert await new_bob.recent_calls() == []
    assert await new_bob.missed_calls() == 0
    assert await new_bob.contacts() == []
    assert not await new_bob.do_not_disturb()
    assert await new_bob.past_call(old_call) is None
    assert next(p for p in alice.online_users() if p.name == 'bob').presence == Presence.ONLINE

    await alice.hang_up(await talk(alice, new_bob))  # the new account's own calls are its history
    await written(history)
    assert len(await new_bob.recent_calls()) == 1
    assert len(await alice.recent_calls()) == 3  # alice keeps every call she made


# what a script could make of them: limits, and two writes at once


async def test_do_not_disturb_switched_past_the_limit_is_refused_with_the_wait_and_told_to_nobody(
    board: Switchboard, clock: FakeClock, logs: pytest.LogCaptureFixture
) -> None:
    alice, bob = await sign_in(board, 'alice'), await sign_in(board, 'bob')
    for flip in range(20):
        await alice.set_do_not_disturb(flip % 2 == 0)
    tab_of(bob).clear()
    with pytest.raises(CallError, match=r'^You switched Do not disturb too often\. Try again in 3 s\.$'):
        await alice.set_do_not_disturb(True)
    assert tab_of(bob).events == []  # nobody heard of the refused one
    assert not await alice.do_not_disturb()
    await clock.advance(3)
    await alice.set_do_not_disturb(True)
    assert await alice.do_not_disturb()
    assert [line for line in log_lines(logs) if 'Rate limited' in line] == [
        '⚠️ Rate limited: do not disturb changes by alice (retry in 3 s)'
    ]


async def test_searches_past_the_limit_are_refused_but_a_page_refreshing_its_results_is_not(
    board: Switchboard, clock: FakeClock
) -> None:
    alice = await sign_in(board, 'alice')
    for _ in range(60):
        await alice.find_people('b')
    with pytest.raises(CallError, match=r'^You searched too often\. Try again in 1 s\.$'):
        await alice.find_people('b')
    with pytest.raises(CallError, match='You searched too often'):
        await alice.contacts()
    assert [p.name for p in await alice.find_people('b', asked=False)] == ['bob']  # presence changed: re-drawn
    assert await alice.contacts(asked=False) == []
    await clock.advance(1)
    assert [p.name for p in await alice.find_people('b')] == ['bob']


async def test_a_search_longer_than_any_name_finds_nobody_without_a_query(board: Switchboard) -> None:
    alice = await sign_in(board, 'alice')
    assert await alice.find_people('b' * 33) == []
    assert [p.name for p in await alice.find_people('b' * 1)] == ['bob']


async def test_two_first_writes_of_a_users_state_at_once_both_land(store: Store) -> None:
    """Two tabs (or a script) switching do not disturb for a user who never had a state row: no IntegrityError."""
    await asyncio.gather(*(store.set_user_state('dave', do_not_disturb=on) for on in (True, False, True)))
    assert (await store.user_state('dave')).do_not_disturb in (True, False)
