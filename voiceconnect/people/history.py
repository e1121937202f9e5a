"""The call history: every call that rang is written to the store, and finished calls are read back from it.

Writes go out in order without making signaling wait for the disk: the ORM work of a write runs on the event
loop, and done at the moment a call starts it would delay the ring and the first signaling messages by tens of
milliseconds, so writes wait for a short quiet moment first.

A database that refuses writes for a while (SQLite locked by another program for longer than its busy timeout, a
full disk, a database server away) loses no row: the write waiting first is tried again, with a growing pause,
and the ones behind it wait their turn, so rows land in order and each once (every write can be repeated: an
insert of a row already there, or an update, changes nothing). Calls go on and end as usual meanwhile; the outage
is logged once when it starts and once when it is over. Only stopping the process gives up, after a short wait,
and says how many rows it could not write.
"""

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime

from ..calls.machine import Call, CallState, EndReason, Member, MemberState, is_voicemail
from ..calls.views import CallView, MemberView
from .db import CallMemberRow, CallRow, MemberRecord, Store, unavailable

log = logging.getLogger('voiceconnect')

WRITE_DELAY_S = 0.3  # after a call event, let its burst of signaling go out first
RETRY_FIRST_S = 0.5  # a refused write is tried again after this, then after twice as long each time...
RETRY_MAX_S = 30.0  # ...up to this: a database back after an outage gets its rows within half a minute
STOP_WAIT_S = 5.0  # how long stopping waits for rows a refusing database still has not taken

Write = Callable[[], Awaitable[None]]  # one row's write, which can be made (and awaited) again


def utc(timestamp: float) -> datetime:
    return datetime.fromtimestamp(timestamp, UTC)


def utc_or_none(timestamp: float | None) -> datetime | None:
    return utc(timestamp) if timestamp is not None else None


def past_call_view(row: CallRow, user: str, members: Sequence[CallMemberRow] = ()) -> CallView | None:
    """A finished call from the store, as `user` sees it (None if they were not in it). A group call is one view
    naming everyone (`members`); someone added to it sees whoever invited them as the peer."""
    added = next((m for m in members if m.user == user and user not in (row.caller, row.callee)), None)
    if (user not in (row.caller, row.callee) and added is None) or row.ended is None:
        return None
    first_peer = row.callee if user == row.caller else row.caller
    peer = (added.invited_by or row.caller) if added is not None else first_peer
    everyone = tuple(dict.fromkeys(m.user for m in members))
    return CallView(
        id=row.id,
        role='caller' if user == row.caller else 'callee',
        peer=peer,
        members=tuple(MemberView(name, MemberState.LEFT, False, False, name == row.caller) for name in everyone),
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


def member_records(call: Call) -> list[MemberRecord]:
    """The rows of a group call's people, written when it ends (a 1:1 call's row says it all: none). Written at the
    end rather than as it goes: one write per call, and the row is only read once the call is over."""
    if not call.is_group and not call.former:
        return []
    stints = sorted([*call.former, *call.members.values()], key=lambda m: m.invited_at or 0.0)
    return [_record(member) for member in stints]


def _record(member: Member) -> MemberRecord:
    return MemberRecord(
        user=member.user,
        invited_by=member.invited_by,
        invited_at=utc_or_none(member.invited_at),
        joined_at=utc_or_none(member.joined_at),
        left_at=utc_or_none(member.left_at),
        reason=str(member.left_reason) if member.left_reason else None,
    )


class _GaveUp(Exception):
    """Stopping, and the database still refuses: the rows left are not written."""


class CallHistory:
    def __init__(self, store: Store) -> None:
        self.store = store
        self._queue: asyncio.Queue[Write] = asyncio.Queue()
        self._worker: asyncio.Task[None] | None = None
        self._unwritten = 0  # queued, or taken by the worker and not written yet
        self._stopping = asyncio.Event()  # set: pauses are short, and retrying ends at _give_up_at
        self._give_up_at = 0.0

    def start(self) -> None:
        self._stopping.clear()
        self._worker = asyncio.create_task(self._write_forever(), name='call history')

    async def stop(self) -> None:
        """Flush what is queued, then stop. While the database refuses, retrying goes on for STOP_WAIT_S; the
        write in flight is never cancelled (its database bounds it: SQLite's busy timeout), the rest are given up."""
        worker, self._worker = self._worker, None
        if worker is None:
            return
        self._give_up_at = time.monotonic() + STOP_WAIT_S
        self._stopping.set()
        await self._queue.join()  # every row written, or given up
        worker.cancel()  # idle now: waiting for rows that will not come

    # writing (the call manager's Recorder)

    def call_created(self, call: Call) -> None:
        if is_voicemail(call.callee):  # a message's own call: the message belongs to the call it follows
            return
        created = utc(call.created)
        self._put(lambda: self.store.add_call(call.id, call.caller, call.callee, created))

    def call_answered(self, call: Call) -> None:
        if is_voicemail(call.callee):
            return
        answered = utc_or_none(call.answered_at)
        self._put(lambda: self.store.answer_call(call.id, answered))

    def call_finished(self, call: Call) -> None:
        assert call.ended_at is not None, 'a finished call has ended'
        if is_voicemail(call.callee):
            return
        answered, ended, reason = utc_or_none(call.answered_at), utc(call.ended_at), str(call.end_reason)
        caller, callee, created = call.caller, call.callee, utc(call.created)
        members = member_records(call)

        def finish() -> Awaitable[None]:
            return self.store.finish_call(call.id, caller, callee, created, answered, ended, reason, members)

        self._put(finish)

    def _put(self, write: Write) -> None:
        self._unwritten += 1
        self._queue.put_nowait(write)

    # reading

    async def past_call(self, call_id: str, user: str) -> CallView | None:
        """A finished call of `user`, e.g. after a server restart: its row says how it ended."""
        row = await self.store.get_call(call_id)
        if row is None:
            return None
        since = (await self.store.user_state(user)).history_since  # a call of an earlier account of the name
        if since is not None and row.created <= since:
            return None
        return past_call_view(row, user, (await self.store.members_of([call_id])).get(call_id, ()))

    async def _write_forever(self) -> None:
        while True:
            batch = [await self._queue.get()]
            await asyncio.sleep(WRITE_DELAY_S)
            while not self._queue.empty():
                batch.append(self._queue.get_nowait())
            for index, write in enumerate(batch):
                try:
                    await self._write_until_taken(write)
                except _GaveUp:
                    self._give_up(len(batch) - index)
                    break
                except Exception:  # a bug, not an outage: that one row is lost, the others still go out
                    log.exception('could not record a call')
                self._done(1)

    def _give_up(self, left_in_batch: int) -> None:
        log.error('⛔ Call history: stopping with %d call row change(s) not written', self._unwritten)
        self._done(left_in_batch)
        while not self._queue.empty():
            self._queue.get_nowait()
            self._done(1)

    def _done(self, count: int) -> None:
        for _ in range(count):
            self._unwritten -= 1
            self._queue.task_done()

    async def _write_until_taken(self, write: Write) -> None:
        """Write, and while the database refuses (an outage, not a bug), wait and write again."""
        outage_since: float | None = None
        pause = RETRY_FIRST_S
        while True:
            try:
                await write()
            except Exception as error:
                if not unavailable(error):
                    raise
                if self._stopping.is_set() and time.monotonic() >= self._give_up_at:
                    raise _GaveUp from None
                if outage_since is None:
                    outage_since = time.monotonic()
                    log.warning(
                        '⚠️ Call history: the database refuses writes (%s); %d call row change(s) kept, retrying',
                        _reason(error),
                        self._unwritten,
                    )
                await self._pause(pause)
                pause = min(pause * 2, RETRY_MAX_S)
                continue
            if outage_since is not None:
                log.info('✅ Call history: writing again after %.0f s', time.monotonic() - outage_since)
            return

    async def _pause(self, seconds: float) -> None:
        """Sleep before the next try; once stopping, only briefly."""
        if not self._stopping.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), seconds)
        if self._stopping.is_set():
            await asyncio.sleep(min(seconds, RETRY_FIRST_S, max(0.0, self._give_up_at - time.monotonic())))


def _reason(error: BaseException) -> str:
    """The database's own words (e.g. `database is locked`), without SQLAlchemy's statement and parameters."""
    original = getattr(error, 'orig', None) or error
    return str(original).splitlines()[0][:200]
