"""The call history: every call that rang is written to the store, and finished calls are read back from it.

Writes go out in order without making signaling wait for the disk: the ORM work of a write runs on the event
loop, and done at the moment a call starts it would delay the ring and the first signaling messages by tens of
milliseconds, so writes wait for a short quiet moment first.
"""

import asyncio
import logging
from collections.abc import Awaitable
from datetime import UTC, datetime

from .calls import Call, CallState, EndReason
from .events import CallView
from .store import CallRow, Store

log = logging.getLogger('voiceconnect')

WRITE_DELAY_S = 0.3  # after a call event, let its burst of signaling go out first


def utc(timestamp: float) -> datetime:
    return datetime.fromtimestamp(timestamp, UTC)


def utc_or_none(timestamp: float | None) -> datetime | None:
    return utc(timestamp) if timestamp is not None else None


def past_call_view(row: CallRow, user: str) -> CallView | None:
    """A finished call from the store, as `user` sees it (None if they were not in it)."""
    if user not in (row.caller, row.callee) or row.ended is None:
        return None
    return CallView(
        id=row.id,
        role='caller' if user == row.caller else 'callee',
        peer=row.callee if user == row.caller else row.caller,
        state=CallState.ENDED,
        here=False,
        leg=None,
        answered_at=row.answered.timestamp() if row.answered else None,
        ended_at=row.ended.timestamp(),
        end_reason=EndReason(row.end_reason) if row.end_reason else None,
        ended_by_me=False,
        answered_elsewhere=False,
        me_muted=False,
        peer_muted=False,
        created=row.created.timestamp(),
    )


class CallHistory:
    def __init__(self, store: Store) -> None:
        self.store = store
        self._queue: asyncio.Queue[Awaitable[None]] = asyncio.Queue()
        self._worker: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._worker = asyncio.create_task(self._write_forever(), name='call history')

    async def stop(self) -> None:
        """Flush what is queued, then stop."""
        await self._queue.join()
        if self._worker is not None:
            self._worker.cancel()

    # writing (the call manager's Recorder)

    def call_created(self, call: Call) -> None:
        self._queue.put_nowait(self.store.add_call(call.id, call.caller, call.callee, utc(call.created)))

    def call_answered(self, call: Call) -> None:
        self._queue.put_nowait(self.store.answer_call(call.id, utc_or_none(call.answered_at)))

    def call_finished(self, call: Call) -> None:
        assert call.ended_at is not None, 'a finished call has ended'
        answered, ended = utc_or_none(call.answered_at), utc(call.ended_at)
        finish = self.store.finish_call(
            call.id, call.caller, call.callee, utc(call.created), answered, ended, str(call.end_reason)
        )
        self._queue.put_nowait(finish)

    # reading

    async def past_call(self, call_id: str, user: str) -> CallView | None:
        """A finished call of `user`, e.g. after a server restart: its row says how it ended."""
        row = await self.store.get_call(call_id)
        if row is None:
            return None
        since = (await self.store.user_state(user)).history_since  # a call of an earlier account of the name
        return past_call_view(row, user) if since is None or row.created > since else None

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
