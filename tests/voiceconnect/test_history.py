"""Every call that rang gets its row in SQLite with its outcome, read back in UTC; calls left open by a crash are
closed at start; a finished call is read back as its people see it."""

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest

from voiceconnect.calls import EndReason
from voiceconnect.clock import FakeClock
from voiceconnect.device import Device
from voiceconnect.history import CallHistory
from voiceconnect.memory_hub import InMemoryHub
from voiceconnect.store import CallRow, Store
from voiceconnect.switchboard import Switchboard, Timeouts

from .helpers import GRACE_S, MEDIA_TIMEOUT_S, RING_TIMEOUT_S, FakeTab, answer, ring, talk


@pytest.fixture
async def call_recorder(store: Store) -> AsyncIterator[CallHistory]:
    recorder = CallHistory(store)
    recorder.start()
    yield recorder
    await recorder.stop()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(start=1_700_000_000.0)


@pytest.fixture
def board(clock: FakeClock, call_recorder: CallHistory) -> Switchboard:
    timeouts = Timeouts(ring_timeout_s=RING_TIMEOUT_S, reconnect_grace_s=GRACE_S, media_timeout_s=MEDIA_TIMEOUT_S)
    return Switchboard(clock, InMemoryHub(), call_recorder, timeouts)


async def sign_in(board: Switchboard, user: str) -> Device:
    service = await board.service_for(f'{user}-browser', user, f'token-{user}')
    return await board.attach(service, f'{user}-tab', FakeTab())


@pytest.fixture
async def alice(board: Switchboard) -> Device:
    return await sign_in(board, 'alice')


@pytest.fixture
async def bob(board: Switchboard) -> Device:
    return await sign_in(board, 'bob')


def utc(timestamp: float) -> datetime:
    return datetime.fromtimestamp(timestamp, UTC)


async def row_of(store: Store, recorder: CallHistory, call_id: str) -> CallRow:
    await recorder.stop()  # flushes what the recorder queued
    row = await store.get_call(call_id)
    assert row is not None, f'no row for call {call_id}'
    return row


async def test_a_completed_call_is_recorded_with_times_duration_and_reason(
    store: Store, call_recorder: CallHistory, clock: FakeClock, alice: Device, bob: Device
) -> None:
    created = clock.now()
    call_id = await ring(alice, bob)
    await clock.advance(4)
    await bob.accept(call_id)
    await clock.advance(12)
    await alice.hang_up(call_id)
    row = await row_of(store, call_recorder, call_id)
    assert (row.caller, row.callee, row.end_reason) == ('alice', 'bob', 'completed')
    assert row.created == utc(created)
    assert row.answered == utc(created + 4)
    assert row.ended == utc(created + 16)
    assert row.duration_s == 12


async def test_a_ringing_call_has_an_open_row(
    store: Store, call_recorder: CallHistory, alice: Device, bob: Device
) -> None:
    call_id = await ring(alice, bob)
    row = await row_of(store, call_recorder, call_id)
    assert (row.caller, row.callee) == ('alice', 'bob')
    assert (row.answered, row.ended, row.duration_s, row.end_reason) == (None, None, None, None)


@pytest.mark.parametrize('outcome', ['declined', 'cancelled', 'missed'])
async def test_an_unanswered_call_is_recorded_with_its_reason_and_no_duration(
    store: Store, call_recorder: CallHistory, clock: FakeClock, alice: Device, bob: Device, outcome: str
) -> None:
    call_id = await ring(alice, bob)
    if outcome == 'declined':
        await bob.decline(call_id)
    elif outcome == 'cancelled':
        await alice.hang_up(call_id)
    else:
        await clock.advance(RING_TIMEOUT_S + 1)
    row = await row_of(store, call_recorder, call_id)
    assert (row.end_reason, row.answered, row.duration_s) == (outcome, None, None)
    assert row.ended is not None


async def test_a_busy_call_is_recorded_busy(
    store: Store, call_recorder: CallHistory, board: Switchboard, alice: Device, bob: Device
) -> None:
    carol = await sign_in(board, 'carol')
    await talk(alice, bob)
    busy = (await carol.call_user('bob')).id
    row = await row_of(store, call_recorder, busy)
    assert (row.caller, row.callee, row.end_reason) == ('carol', 'bob', 'busy')


async def test_a_failed_call_is_recorded_failed(
    store: Store, call_recorder: CallHistory, clock: FakeClock, alice: Device, bob: Device
) -> None:
    call_id = await answer(alice, bob)
    await clock.advance(MEDIA_TIMEOUT_S + 1)
    row = await row_of(store, call_recorder, call_id)
    assert row.end_reason == 'failed'


async def test_shutdown_records_server_restart(
    store: Store, call_recorder: CallHistory, board: Switchboard, alice: Device, bob: Device
) -> None:
    call_id = await talk(alice, bob)
    await board.shutdown()
    row = await row_of(store, call_recorder, call_id)
    assert row.end_reason == 'server_restart'


async def test_stop_flushes_what_is_queued(
    store: Store, alice: Device, bob: Device, call_recorder: CallHistory
) -> None:
    call_id = await ring(alice, bob)
    await alice.hang_up(call_id)
    await call_recorder.stop()
    row = await store.get_call(call_id)
    assert row is not None
    assert row.end_reason == 'cancelled'


async def test_one_failed_write_does_not_stop_the_others(
    store: Store, call_recorder: CallHistory, alice: Device, bob: Device
) -> None:
    async def broken() -> None:
        raise RuntimeError('disk full')

    call_recorder._queue.put_nowait(broken())
    call_id = await ring(alice, bob)
    row = await row_of(store, call_recorder, call_id)
    assert row.caller == 'alice'


# closing calls left open by a crash


async def test_close_open_calls_marks_open_rows_server_restart(store: Store) -> None:
    await store.add_call('cOpen', 'alice', 'bob', datetime.now(UTC))
    assert await store.close_open_calls(EndReason.SERVER_RESTART) == 1
    row = await store.get_call('cOpen')
    assert row is not None
    assert row.end_reason == 'server_restart'
    assert row.ended is not None


async def test_close_open_calls_leaves_finished_calls_alone(store: Store) -> None:
    start = datetime(2024, 1, 1, 12, 0, tzinfo=UTC)
    await store.add_call('cDone', 'alice', 'bob', start)
    await store.finish_call('cDone', 'alice', 'bob', start, start, start.replace(minute=1), 'completed')
    assert await store.close_open_calls(EndReason.SERVER_RESTART) == 0
    row = await store.get_call('cDone')
    assert row is not None
    assert (row.end_reason, row.duration_s) == ('completed', 60)


async def test_close_open_calls_with_nothing_open_closes_nothing(store: Store) -> None:
    assert await store.close_open_calls(EndReason.SERVER_RESTART) == 0


async def test_a_finished_call_reads_back_as_each_person_saw_it(
    store: Store, call_recorder: CallHistory, clock: FakeClock, alice: Device, bob: Device
) -> None:
    call_id = await talk(alice, bob)
    await clock.advance(65)
    await bob.hang_up(call_id)
    await call_recorder.stop()
    for device, role, peer in ((alice, 'caller', 'bob'), (bob, 'callee', 'alice')):
        view = await device.past_call(call_id)
        assert view is not None
        assert (view.role, view.peer, view.end_reason) == (role, peer, EndReason.COMPLETED)
        assert view.ended_at is not None
        assert view.duration(clock.now()) == 65


async def test_nobody_reads_back_a_call_they_were_not_in(
    store: Store, call_recorder: CallHistory, board: Switchboard, alice: Device, bob: Device
) -> None:
    carol = await sign_in(board, 'carol')
    call_id = await ring(alice, bob)
    await alice.hang_up(call_id)
    await call_recorder.stop()
    assert await carol.past_call(call_id) is None
    assert await alice.past_call('cNoSuchCall') is None


async def test_a_moment_without_a_time_zone_is_refused(store: Store) -> None:
    with pytest.raises(Exception, match='time zone'):
        await store.add_call('cNaive', 'alice', 'bob', datetime(2024, 1, 1, 12, 0))
