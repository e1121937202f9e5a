"""Every call that rang gets its row in SQLite with its outcome, read back in UTC; calls left open by a crash are
closed at start; a finished call is read back as its people see it."""

import asyncio
import json
import logging
import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from voiceconnect.calls.machine import EndReason
from voiceconnect.clock import FakeClock
from voiceconnect.connections.device import Device
from voiceconnect.connections.memory_hub import InMemoryHub
from voiceconnect.connections.switchboard import Switchboard
from voiceconnect.people.db import CallRow, Store
from voiceconnect.people.history import STOP_WAIT_S, CallHistory
from voiceconnect.settings import Timeouts
from voiceconnect.testing.servers import PROJECT_DIR

from .helpers import GRACE_S, MEDIA_TIMEOUT_S, RING_TIMEOUT_S, FakeTab, answer, ring, tab_of, talk

BUSY_TIMEOUT_S = 5  # the store's PRAGMA busy_timeout: a writer waits this long for a lock before it is refused


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

    call_recorder._put(broken)
    call_id = await ring(alice, bob)
    row = await row_of(store, call_recorder, call_id)
    assert row.caller == 'alice'


# a database that refuses writes for a while


async def eventually(condition: Callable[[], Awaitable[bool]], what: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not await condition():
        assert time.monotonic() < deadline, f'{what} (waited {timeout:g} s)'
        await asyncio.sleep(0.1)


def refusals(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [record for record in caplog.records if 'refuses writes' in record.getMessage()]


async def test_rows_of_calls_ended_while_another_program_locks_the_database_are_written_once_it_lets_go(
    store: Store, call_recorder: CallHistory, clock: FakeClock, alice: Device, bob: Device, tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    """A real SQLite locked by another connection (BEGIN EXCLUSIVE) for longer than the store's busy timeout: the
    calls end for their people as usual, the outage is one WARNING without traceback, and once the lock goes every
    row is there, final and once."""
    caplog.set_level(logging.INFO, logger='voiceconnect')
    first = await answer(alice, bob)

    async def first_answered() -> bool:
        row = await store.get_call(first)
        return row is not None and row.answered is not None

    await eventually(first_answered, 'the first call was not written', timeout=5)
    locker = sqlite3.connect(tmp_path / 't.db', isolation_level=None)
    locker.execute('BEGIN EXCLUSIVE')  # mid-call: its end, and all of the next calls, meet the lock
    calls: list[tuple[str, int]] = []
    for seconds in (3, 7, 11):
        call_id = first if not calls else await answer(alice, bob)
        await clock.advance(seconds)
        ended = await alice.hang_up(call_id)
        assert (ended.state, ended.end_reason) == ('ended', 'completed')  # what alice sees, at once
        assert tab_of(bob).last_view(call_id).end_reason == 'completed'  # and bob
        calls.append((call_id, seconds))

    await asyncio.sleep(BUSY_TIMEOUT_S + 1)  # the writer waited for the lock as long as SQLite lets it, and was refused
    held = [await store.get_call(call_id) for call_id, _ in calls]  # reading goes on (WAL), writing waits
    assert held[0] is not None and held[0].ended is None and held[1:] == [None, None]
    locker.execute('COMMIT')
    locker.close()

    async def all_written() -> bool:
        rows = [await store.get_call(call_id) for call_id, _ in calls]
        return all(row is not None and row.end_reason == 'completed' for row in rows)

    await eventually(all_written, 'the rows were not written after the lock went', timeout=BUSY_TIMEOUT_S + 5)
    for call_id, seconds in calls:
        row = await store.get_call(call_id)
        assert row is not None and (row.caller, row.callee, row.duration_s) == ('alice', 'bob', seconds)
    async with store.sessions() as db:
        ids = (await db.scalars(select(CallRow.id))).all()
    assert sorted(ids) == sorted(call_id for call_id, _ in calls)
    (warning,) = refusals(caplog)
    assert warning.levelno == logging.WARNING and 'database is locked' in warning.getMessage()
    assert [record for record in caplog.records if record.exc_info] == []
    assert any('writing again' in record.getMessage() for record in caplog.records)


async def test_stopping_while_the_database_is_locked_gives_up_in_seconds_and_says_what_it_could_not_write(
    store: Store, call_recorder: CallHistory, alice: Device, bob: Device, tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    caplog.set_level(logging.INFO, logger='voiceconnect')
    locker = sqlite3.connect(tmp_path / 't.db', isolation_level=None)
    locker.execute('BEGIN EXCLUSIVE')
    await alice.hang_up(await ring(alice, bob))
    started = time.monotonic()
    await call_recorder.stop()
    assert time.monotonic() - started < STOP_WAIT_S + BUSY_TIMEOUT_S + 1  # the try in flight ends first
    (line,) = [record for record in caplog.records if 'not written' in record.getMessage()]
    assert (line.levelname, line.exc_info) == ('ERROR', None)
    assert 'stopping with 2 call row change(s) not written' in line.getMessage()
    locker.execute('COMMIT')
    locker.close()


def test_rows_of_calls_ended_while_the_disk_is_full_are_written_once_there_is_room(tmp_path: Path) -> None:
    """A real full file system: a 2 MB tmpfs, in a mount namespace of the scenario's own (tests/voiceconnect/
    full_disk.py), filled up mid-call. The calls end for their people as usual, SQLite's `database or disk is
    full` is one WARNING without traceback, and once there is room every row is written, final and once."""
    disk = tmp_path / 'disk'
    disk.mkdir()
    mount = 'mount -t tmpfs -o size=2m tmpfs "$1" || exit 77; exec "$2" -m tests.voiceconnect.full_disk "$1"'
    user_namespace = [] if os.geteuid() == 0 else ['--map-root-user']
    command = ['unshare', *user_namespace, '--mount', '--propagation', 'private', 'sh', '-c', mount, 'sh']
    try:
        done = subprocess.run(
            [*command, str(disk), sys.executable], cwd=PROJECT_DIR, capture_output=True, text=True, timeout=90
        )
    except FileNotFoundError:
        pytest.skip('no unshare here: a private tmpfs cannot be mounted')
    if done.returncode == 77 or 'unshare failed' in done.stderr:
        pytest.skip(f'a private tmpfs cannot be mounted here: {done.stderr.strip()}')
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.splitlines()[-1])
    assert report['seen'] == [['completed', 'completed']] * 3  # alice and bob saw each call end as usual
    assert report['during'] == [False, None, None]  # nothing written while the disk was full
    assert report['written'], report
    assert report['after'] == [['completed', seconds] for seconds in report['durations']]
    assert report['rows'] == 3
    warnings = [message for level, message in report['lines'] if 'refuses writes' in message]
    assert warnings == [warnings[0]] and 'database or disk is full' in warnings[0], report['lines']
    assert ['WARNING', warnings[0]] in report['lines']
    assert report['tracebacks'] == 0


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
