"""A group call in the history: one `calls` row as before (caller, first callee), a `call_members` row per stint
of each person with their times and reason, and Recent calls shows it as one row naming everyone, to everyone."""

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from voiceconnect.clock import FakeClock
from voiceconnect.connections.device import Device
from voiceconnect.connections.memory_hub import InMemoryHub
from voiceconnect.connections.switchboard import Switchboard
from voiceconnect.people.db import CallMemberRow, Store
from voiceconnect.people.directory import People
from voiceconnect.people.history import CallHistory
from voiceconnect.settings import Timeouts

from .helpers import GRACE_S, MEDIA_TIMEOUT_S, RING_TIMEOUT_S, FakeTab, talk

START = 1_700_000_000.0


@pytest.fixture
async def call_recorder(store: Store) -> AsyncIterator[CallHistory]:
    recorder = CallHistory(store)
    recorder.start()
    yield recorder
    await recorder.stop()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(start=START)


@pytest.fixture
def board(clock: FakeClock, call_recorder: CallHistory) -> Switchboard:
    timeouts = Timeouts(ring_timeout_s=RING_TIMEOUT_S, reconnect_grace_s=GRACE_S, media_timeout_s=MEDIA_TIMEOUT_S)
    return Switchboard(clock, InMemoryHub(), call_recorder, timeouts)


async def sign_in(board: Switchboard, user: str) -> Device:
    service = await board.service_for(f'{user}-browser', user, f'token-{user}')
    return await board.attach(service, f'{user}-tab', FakeTab())


def utc(timestamp: float) -> datetime:
    return datetime.fromtimestamp(timestamp, UTC)


async def a_group_call(board: Switchboard, clock: FakeClock) -> str:
    """alice calls bob (answered at once), adds carol at +10 (joins at +12), carol hangs up at +20, dave is
    added at +25 and declines, bob hangs up at +30 (the last two: the call ends)."""
    alice, bob, carol, dave = [await sign_in(board, name) for name in ('alice', 'bob', 'carol', 'dave')]
    call_id = await talk(alice, bob)
    await clock.advance(10)
    await alice.add_person(call_id, 'carol')
    await clock.advance(2)
    await carol.accept(call_id)
    await clock.advance(8)
    await carol.hang_up(call_id)
    await clock.advance(5)
    await bob.add_person(call_id, 'dave')
    await dave.decline(call_id)
    await clock.advance(5)
    await bob.hang_up(call_id)
    return call_id


async def test_each_person_of_a_group_call_has_a_row_with_their_times_and_reason(
    store: Store, call_recorder: CallHistory, board: Switchboard, clock: FakeClock
) -> None:
    call_id = await a_group_call(board, clock)
    await call_recorder.stop()
    call = await store.get_call(call_id)
    assert call is not None and (call.caller, call.callee, call.end_reason) == ('alice', 'bob', 'completed')
    async with store.sessions() as db:
        rows = (await db.scalars(select(CallMemberRow).where(CallMemberRow.call_id == call_id))).all()
    got = [(r.user, r.invited_by, r.invited_at, r.joined_at, r.left_at, r.reason) for r in rows]
    assert got == [
        ('alice', None, utc(START), utc(START), utc(START + 30), 'call_ended'),
        ('bob', 'alice', utc(START), utc(START), utc(START + 30), 'hung_up'),
        ('carol', 'alice', utc(START + 10), utc(START + 12), utc(START + 20), 'hung_up'),
        ('dave', 'bob', utc(START + 25), None, utc(START + 25), 'declined'),
    ]


async def test_recent_calls_show_a_group_call_once_naming_everyone_to_each_of_them(
    store: Store, call_recorder: CallHistory, board: Switchboard, clock: FakeClock
) -> None:
    call_id = await a_group_call(board, clock)
    await call_recorder.stop()
    people = People(store)
    for name, peer in (('alice', 'bob'), ('bob', 'alice'), ('carol', 'alice'), ('dave', 'bob')):
        recent = await people.recent_calls(name, 10)
        assert [view.id for view in recent] == [call_id], name
        assert recent[0].peer == peer
        assert [m.name for m in recent[0].members] == ['alice', 'bob', 'carol', 'dave']
    assert [view.id for view in await people.recent_calls('erin', 10)] == []


async def test_a_one_to_one_call_writes_no_member_rows(
    store: Store, call_recorder: CallHistory, board: Switchboard
) -> None:
    alice, bob = await sign_in(board, 'alice'), await sign_in(board, 'bob')
    call_id = await talk(alice, bob)
    await alice.hang_up(call_id)
    await call_recorder.stop()
    async with store.sessions() as db:
        assert await db.scalar(select(func.count()).select_from(CallMemberRow)) == 0
    assert (await People(store).recent_calls('bob', 10))[0].members == ()
