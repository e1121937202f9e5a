"""Writes every call that rang to SQLite, in order, without making signaling wait for the disk.

The ORM work of a write runs on the event loop; done at the moment a call starts it would delay the ring
and the first signaling messages by tens of milliseconds, so writes wait for a short quiet moment first.
"""

import asyncio
import logging
from datetime import UTC, datetime

from .calls import Call
from .store import Store

log = logging.getLogger('voiceconnect')


def as_datetime(timestamp: float | None) -> datetime | None:
    return datetime.fromtimestamp(timestamp, UTC) if timestamp is not None else None


WRITE_DELAY_S = 0.3  # after a call event, let its burst of signaling go out first


class CallRecorder:
    def __init__(self, store: Store) -> None:
        self.store = store
        self._queue: asyncio.Queue = asyncio.Queue()
        self._worker: asyncio.Task | None = None

    def start(self) -> None:
        self._worker = asyncio.create_task(self._write_forever(), name='call recorder')

    async def stop(self) -> None:
        """Flush what is queued, then stop."""
        await self._queue.join()
        if self._worker is not None:
            self._worker.cancel()

    def call_created(self, call: Call) -> None:
        self._queue.put_nowait(self.store.add_call(call.id, call.caller, call.callee, as_datetime(call.created)))

    def call_answered(self, call: Call) -> None:
        self._queue.put_nowait(self.store.answer_call(call.id, as_datetime(call.answered_at)))

    def call_finished(self, call: Call) -> None:
        reason = str(call.end_reason)
        ended = as_datetime(call.ended_at)
        self._queue.put_nowait(self.store.finish_call(call.id, as_datetime(call.answered_at), ended, reason))

    async def _write_forever(self) -> None:
        while True:
            batch = [await self._queue.get()]
            await asyncio.sleep(WRITE_DELAY_S)
            while not self._queue.empty():
                batch.append(self._queue.get_nowait())
            for write in batch:
                try:
                    await write
                except Exception:  # one failed write must not stop the others
                    log.exception('could not record a call')
                finally:
                    self._queue.task_done()
