"""A disk that fills up under the call history, for tests/voiceconnect/test_history.py.

`python -m tests.voiceconnect.full_disk DIR`, with DIR a small tmpfs of its own (the test mounts one in a private
mount namespace, so nothing outside this process sees it): the database lives there, a ballast file takes the
rest of the room mid-call, calls end, the ballast goes, and what happened is printed as one JSON line for the
test to check. SQLite then meets a really full file system (`database or disk is full`, SQLITE_FULL), the way it
would on a server.
"""

import asyncio
import json
import logging
import os
import sys
import time
from pathlib import Path
from typing import Any

from sqlalchemy import select

from voiceconnect.clock import FakeClock
from voiceconnect.connections.memory_hub import InMemoryHub
from voiceconnect.connections.switchboard import Switchboard
from voiceconnect.people.db import CallRow, Store
from voiceconnect.people.history import CallHistory
from voiceconnect.settings import Timeouts

from .helpers import FakeTab, answer, tab_of


class Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def fill(path: Path) -> None:
    """Write zeros to `path` until the file system has no room left."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT)
    try:
        while True:
            os.write(descriptor, bytes(4096))
    except OSError:
        pass
    finally:
        os.close(descriptor)


async def until(condition: Any, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not await condition():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.1)
    return True


async def scenario(directory: Path) -> dict[str, Any]:
    records = Records()
    logging.getLogger('voiceconnect').addHandler(records)
    logging.getLogger('voiceconnect').setLevel(logging.INFO)
    store = Store(f'sqlite+aiosqlite:///{directory / "t.db"}')
    await store.create_schema()
    history = CallHistory(store)
    history.start()
    clock = FakeClock(start=1_700_000_000.0)
    board = Switchboard(clock, InMemoryHub(), history, Timeouts(ring_timeout_s=45, reconnect_grace_s=20))
    alice, bob = [
        await board.attach(await board.service_for(f'{name}-browser', name, f'token-{name}'), f'{name}-tab', FakeTab())
        for name in ('alice', 'bob')
    ]
    first = await answer(alice, bob)

    async def first_written() -> bool:
        row = await store.get_call(first)
        return row is not None and row.answered is not None

    await until(first_written, 5)
    fill(directory / 'ballast')  # mid-call: its end, and all of the next calls, find the disk full
    calls: list[tuple[str, int]] = []
    seen = []
    for seconds in (3, 7, 11):
        call_id = first if not calls else await answer(alice, bob)
        await clock.advance(seconds)
        ended = await alice.hang_up(call_id)
        seen.append([str(ended.end_reason), str(tab_of(bob).last_view(call_id).end_reason)])
        calls.append((call_id, seconds))
    await asyncio.sleep(2)  # a full disk refuses at once: the writer has been refused and tried again by now
    during = [await store.get_call(call_id) for call_id, _ in calls]
    os.remove(directory / 'ballast')

    async def all_written() -> bool:
        rows = [await store.get_call(call_id) for call_id, _ in calls]
        return all(row is not None and row.ended is not None for row in rows)

    written = await until(all_written, 20)
    after = [await store.get_call(call_id) for call_id, _ in calls]
    async with store.sessions() as db:
        rows = len((await db.scalars(select(CallRow.id))).all())
    await history.stop()
    await store.close()
    return {
        'seen': seen,  # what alice and bob were shown as each call ended
        'during': [None if row is None else row.ended is not None for row in during],
        'written': written,
        'after': [None if row is None else [row.end_reason, row.duration_s] for row in after],
        'durations': [seconds for _, seconds in calls],
        'rows': rows,
        'lines': [[record.levelname, record.getMessage()] for record in records.records],
        'tracebacks': sum(1 for record in records.records if record.exc_info),
    }


if __name__ == '__main__':
    print(json.dumps(asyncio.run(scenario(Path(sys.argv[1])))))
