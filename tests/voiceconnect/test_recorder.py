"""Every call that rang gets its row in SQLite with its outcome; calls left open by a crash are closed at start."""

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest

from voiceconnect.calls import EndReason
from voiceconnect.clock import FakeClock
from voiceconnect.connection import Device
from voiceconnect.hub import Hub
from voiceconnect.recorder import CallRecorder
from voiceconnect.store import CallRow, Store

from .helpers import GRACE_S, MEDIA_TIMEOUT_S, RING_TIMEOUT_S, FakeTab, answer, ring, talk


@pytest.fixture
async def call_recorder(store: Store) -> AsyncIterator[CallRecorder]:
    recorder = CallRecorder(store)
    recorder.start()
    yield recorder
    await recorder.stop()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(start=1_700_000_000.0)


@pytest.fixture
def hub(clock: FakeClock, call_recorder: CallRecorder) -> Hub:
    return Hub(
        clock, grace_s=GRACE_S, ring_timeout_s=RING_TIMEOUT_S, media_timeout_s=MEDIA_TIMEOUT_S, recorder=call_recorder
    )


def sign_in(hub: Hub, user: str) -> Device:
    return hub.service_for(f'{user}-browser', user, f'token-{user}').attach(f'{user}-tab', FakeTab())


@pytest.fixture
def alice(hub: Hub) -> Device:
    return sign_in(hub, 'alice')


@pytest.fixture
def bob(hub: Hub) -> Device:
    return sign_in(hub, 'bob')


def utc(timestamp: float) -> datetime:
    return datetime.fromtimestamp(timestamp, UTC)


def aware(value: datetime | None) -> datetime | None:
    """SQLite keeps no time zone: the recorder writes UTC, so a naive value read back is UTC."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


async def row_of(store: Store, recorder: CallRecorder, call_id: str) -> CallRow:
    await recorder.stop()  # flushes what the recorder queued
    row = await store.get_call(call_id)
    assert row is not None, f'no row for call {call_id}'
    return row


async def test_a_completed_call_is_recorded_with_times_duration_and_reason(
    store: Store, call_recorder: CallRecorder, clock: FakeClock, alice: Device, bob: Device
) -> None:
    created = clock.now()
    call_id = ring(alice, bob)
    clock.advance(4)
    bob.accept(call_id)
    clock.advance(12)
    alice.hang_up(call_id)
    row = await row_of(store, call_recorder, call_id)
    assert (row.caller, row.callee, row.end_reason) == ('alice', 'bob', 'completed')
    assert aware(row.created) == utc(created)
    assert aware(row.answered) == utc(created + 4)
    assert aware(row.ended) == utc(created + 16)
    assert row.duration_s == 12


async def test_a_ringing_call_has_an_open_row(
    store: Store, call_recorder: CallRecorder, alice: Device, bob: Device
) -> None:
    call_id = ring(alice, bob)
    row = await row_of(store, call_recorder, call_id)
    assert (row.caller, row.callee) == ('alice', 'bob')
    assert (row.answered, row.ended, row.duration_s, row.end_reason) == (None, None, None, None)


@pytest.mark.parametrize('outcome', ['declined', 'cancelled', 'missed'])
async def test_an_unanswered_call_is_recorded_with_its_reason_and_no_duration(
    store: Store, call_recorder: CallRecorder, clock: FakeClock, alice: Device, bob: Device, outcome: str
) -> None:
    call_id = ring(alice, bob)
    if outcome == 'declined':
        bob.decline(call_id)
    elif outcome == 'cancelled':
        alice.hang_up(call_id)
    else:
        clock.advance(RING_TIMEOUT_S + 1)
    row = await row_of(store, call_recorder, call_id)
    assert (row.end_reason, row.answered, row.duration_s) == (outcome, None, None)
    assert row.ended is not None


async def test_a_busy_call_is_recorded_busy(
    store: Store, call_recorder: CallRecorder, hub: Hub, alice: Device, bob: Device
) -> None:
    carol = sign_in(hub, 'carol')
    talk(alice, bob)
    busy = carol.call_user('bob').id
    row = await row_of(store, call_recorder, busy)
    assert (row.caller, row.callee, row.end_reason) == ('carol', 'bob', 'busy')


async def test_a_failed_call_is_recorded_failed(
    store: Store, call_recorder: CallRecorder, clock: FakeClock, alice: Device, bob: Device
) -> None:
    call_id = answer(alice, bob)
    clock.advance(MEDIA_TIMEOUT_S + 1)
    row = await row_of(store, call_recorder, call_id)
    assert row.end_reason == 'failed'


async def test_shutdown_records_server_restart(
    store: Store, call_recorder: CallRecorder, hub: Hub, alice: Device, bob: Device
) -> None:
    call_id = talk(alice, bob)
    hub.shutdown()
    row = await row_of(store, call_recorder, call_id)
    assert row.end_reason == 'server_restart'


async def test_stop_flushes_what_is_queued(
    store: Store, alice: Device, bob: Device, call_recorder: CallRecorder
) -> None:
    call_id = ring(alice, bob)
    alice.hang_up(call_id)
    await call_recorder.stop()
    row = await store.get_call(call_id)
    assert row is not None
    assert row.end_reason == 'cancelled'


async def test_one_failed_write_does_not_stop_the_others(
    store: Store, call_recorder: CallRecorder, alice: Device, bob: Device
) -> None:
    async def broken() -> None:
        raise RuntimeError('disk full')

    call_recorder._queue.put_nowait(broken())
    call_id = ring(alice, bob)
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
    await store.finish_call('cDone', start, start.replace(minute=1), 'completed')
    assert await store.close_open_calls(EndReason.SERVER_RESTART) == 0
    row = await store.get_call('cDone')
    assert row is not None
    assert (row.end_reason, row.duration_s) == ('completed', 60)


async def test_close_open_calls_with_nothing_open_closes_nothing(store: Store) -> None:
    assert await store.close_open_calls(EndReason.SERVER_RESTART) == 0
