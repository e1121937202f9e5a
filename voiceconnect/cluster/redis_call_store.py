"""Live calls in Redis, shared by every process: atomic transitions and deadlines that outlive their process.

- `vc:call:<id>` holds a live call as JSON, `vc:in-call:<user>` the id of the call a user is in, and the sorted set
  `vc:deadlines` each live call's deadline (score: epoch seconds).
- A transition is optimistic (`WATCH` / `MULTI` / `EXEC`): the step reads the keys it needs, each read watched;
  its writes go out in one `MULTI`, and if any watched key changed meanwhile (another process moved the same call,
  or put one of its people in another call) Redis refuses the whole write and the step runs again on fresh data.
  So a call is answered once when two tabs on two processes press Accept together, and glare and busy are decided
  on what is true at the moment of the write.
- Every process sweeps `vc:deadlines` (and keeps a local timer for the deadlines it set, to be on time): whoever
  commits the ending first ends the call, the others find it gone. A ring or media timeout still fires when the
  process that started the call is dead. Deadlines are on the processes' shared clock (Redis's, see
  redis_hub.py), so a process whose own clock is ahead ends nobody's call early. The sweep takes every passed
  deadline in turn: an id whose call is gone is dropped from the set, and an entry that does not decode (not
  text, or its call not a call) is dropped once with a line saying so, its key left as found for a look; neither
  holds up the deadlines behind it.
- While Redis does not answer (the hub says so) a transition fails at once with ServiceUnavailable instead of
  waiting out its time-out, and the sweep waits; a deadline that passed meanwhile is swept when Redis is back.
- A transition holds a connection of the pool for its WATCH and needs another for what it asks the hub meanwhile,
  and the hub's subscription holds one for good: at most half of the others take part in transitions at once, so
  they can never all wait for each other (voiceconnect/cluster/pool.py: the pool is bounded).
- Each process keeps a cache of the calls it has seen, for pages that read them while they draw; its own commits
  and the hub's news of other processes' commits keep it current.
"""

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar, cast

from redis.asyncio import Redis
from redis.asyncio.client import Pipeline
from redis.exceptions import RedisError, WatchError

from ..calls.machine import Call, ServiceUnavailable
from ..calls.store import CallIndex, DeadlineTimers
from ..clock import Clock
from . import keys
from .pool import OUTAGE

log = logging.getLogger('voiceconnect')
T = TypeVar('T')
SWEEP_EVERY_S = 0.25
SWEEP_BATCH = 100  # passed deadlines read at once; a sweep reads batches until none is left (at most SWEEP_MAX)
SWEEP_MAX = 1000
MAX_ATTEMPTS = 50  # a step runs again while other processes keep changing what it read; this many is a bug
DROP_IF_GONE = """
if redis.call('EXISTS', KEYS[2]) == 0 then return redis.call('ZREM', KEYS[1], ARGV[1]) end
return 0
"""  # KEYS: deadlines, call:<id>; ARGV: id → 1 if its call is gone and the id was dropped
FREE_IF_HERE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""  # KEYS: in-call:<user>; ARGV: call id → the user is free, unless they are in another call by now


class TooMuchContention(RuntimeError):
    """A transition could not commit after MAX_ATTEMPTS tries."""


class CorruptCall(ValueError):
    """A call's key holds something that is not a call."""


class RedisCallStore:
    """`healthy`: whether Redis answers, as the hub last found (a transition does not wait for one that does not)."""

    def __init__(
        self,
        redis: Redis,
        clock: Clock,
        on_deadline: Callable[[str], Awaitable[None]],
        healthy: Callable[[], bool] = lambda: True,
    ) -> None:
        self.redis = redis
        self.clock = clock
        self.on_deadline = on_deadline
        self.healthy = healthy
        self._drop_if_gone = redis.register_script(DROP_IF_GONE)
        pool_size = min(redis.connection_pool.max_connections, 2000)
        self._transitions = asyncio.Semaphore(max(1, (pool_size - 1) // 2))
        self._cache = CallIndex()
        self._timers = DeadlineTimers(clock, self._passed)  # for the deadlines this process set: on time
        self._sweeper: asyncio.Task[None] | None = None
        self._sweep_failing = False
        self._stopping = False

    # the CallStore API

    async def transact(self, step: Callable[['RedisTx'], Awaitable[T]]) -> T:
        """Raises ServiceUnavailable (a CallError, said to the person) while Redis does not answer."""
        async with self._transitions:
            if not self.healthy():  # checked once it is this one's turn: Redis may have gone meanwhile
                raise ServiceUnavailable()
            try:
                return await self._transact(step)
            except OUTAGE as error:
                raise ServiceUnavailable() from error

    async def _transact(self, step: Callable[['RedisTx'], Awaitable[T]]) -> T:
        for _ in range(MAX_ATTEMPTS):
            async with self.redis.pipeline(transaction=True) as pipe:
                tx = RedisTx(pipe)
                try:
                    result = await step(tx)
                    if tx.writes:
                        pipe.multi()
                        for write in tx.writes:
                            write(pipe)
                        await pipe.execute()
                    else:
                        await pipe.unwatch()
                except WatchError:
                    continue
            self._learn(tx)
            return result
        raise TooMuchContention('a call transition could not commit')

    def cached(self, call_id: str) -> Call | None:
        return self._cache.get(call_id)

    def cached_of(self, user: str) -> Call | None:
        return self._cache.of(user)

    def live_calls(self) -> dict[str, Call]:
        return self._cache.calls

    async def still_live(self, call_ids: list[str]) -> set[str]:
        if not call_ids:
            return set()
        found = await self.redis.mget([keys.call(call_id) for call_id in call_ids])
        return {call_id for call_id, raw in zip(call_ids, found, strict=True) if raw is not None}

    # news of calls committed by other processes (the hub hears them)

    def heard(self, call: Call) -> None:
        if call.live:
            self._remember(call)
        else:
            self._forget(call)

    # deadlines

    def start(self) -> None:
        if self._sweeper is None:
            self._sweeper = asyncio.create_task(self._sweep_forever(), name='call deadlines')

    async def stop(self) -> None:
        self._stopping = True
        if self._sweeper is not None:
            self._sweeper.cancel()
            await asyncio.wait([self._sweeper], timeout=3)  # a cancellation swallowed by redis-py must not hang us
            self._sweeper = None
        self._timers.cancel_all()

    async def _sweep_forever(self) -> None:
        while not self._stopping:
            await asyncio.sleep(SWEEP_EVERY_S)
            if not self.healthy():
                continue  # the deadlines wait in Redis
            try:
                await self._sweep()
                self._sweep_failing = False
            except (RedisError, OSError, ServiceUnavailable) as error:  # Redis away for a moment: said once, not 4/s
                if not self._sweep_failing:
                    log.warning('⚠️ Call deadlines not swept: %s', error)
                self._sweep_failing = True
            except Exception:
                log.exception('sweeping call deadlines failed')

    async def _sweep(self) -> None:
        """Every deadline that has passed, in batches, oldest first."""
        for _ in range(SWEEP_MAX // SWEEP_BATCH):
            due = await self.redis.zrangebyscore(keys.DEADLINES, '-inf', self.clock.now(), start=0, num=SWEEP_BATCH)
            for member in due:
                await self._passed_deadline(cast(bytes, member))
            if len(due) < SWEEP_BATCH:
                return

    async def _passed_deadline(self, member: bytes | str) -> None:
        """End the call whose deadline this is; drop an id whose call is gone, or an entry that does not decode."""
        try:
            call_id = member.decode() if isinstance(member, bytes) else member
        except UnicodeDecodeError:
            await self._drop_undecodable(member, 'the id is not text')
            return
        if await self._drop_if_gone(keys=[keys.DEADLINES, keys.call(call_id)], args=[member]):
            return  # its call ended, or never was: nothing to do but forget it
        try:
            await self.on_deadline(call_id)
        except CorruptCall as error:
            await self._drop_undecodable(member, str(error))

    async def _drop_undecodable(self, member: bytes | str, why: str) -> None:
        await self.redis.zrem(keys.DEADLINES, member)
        log.warning('⚠️ Dropped a call deadline that does not decode, %r: %s', member[:60], why)

    # the cache

    def _learn(self, tx: 'RedisTx') -> None:
        for call in tx.saved.values():
            self._remember(call)
            self._timers.set(call.id, call.deadline)
        for call in tx.deleted.values():
            self._forget(call)

    def _remember(self, call: Call) -> None:
        self._cache.put(call)

    def _forget(self, call: Call) -> None:
        self._cache.drop(call)
        self._timers.set(call.id, None)

    async def _passed(self, call_id: str) -> None:
        """A local timer for a deadline this process set: on time, where the sweep may be a moment late."""
        with contextlib.suppress(ServiceUnavailable):  # Redis does not answer: the sweep ends it once it does
            await self.on_deadline(call_id)


class RedisTx:
    """One attempt of a step: reads are watched, writes wait for the commit."""

    def __init__(self, pipe: Pipeline) -> None:
        self.pipe = pipe
        self.writes: list[Callable[[Pipeline], Any]] = []
        self.saved: dict[str, Call] = {}
        self.deleted: dict[str, Call] = {}
        self._read: dict[str, Call | None] = {}  # call id → the call as read (one object per call per attempt)
        self._in_call: dict[str, str | None] = {}  # user → the call id read for them

    async def get(self, call_id: str) -> Call | None:
        if call_id not in self._read:
            key = keys.call(call_id)
            await self.pipe.watch(key)
            raw = await self.pipe.get(key)
            self._read[call_id] = _decoded(key, raw) if raw else None
        return self._read[call_id]

    async def of_user(self, user: str) -> Call | None:
        if user not in self._in_call:
            key = keys.in_call(user)
            await self.pipe.watch(key)
            raw = await self.pipe.get(key)
            self._in_call[user] = raw.decode() if isinstance(raw, bytes) else raw
        call_id = self._in_call[user]
        return await self.get(call_id) if call_id else None

    def save(self, call: Call) -> None:
        self.saved[call.id] = call
        self.deleted.pop(call.id, None)
        text, deadline = call.to_json(), call.deadline
        present = call.present_users()
        gone = [user for user in call.everyone() if user not in present]

        def write(pipe: Pipeline) -> None:
            pipe.set(keys.call(call.id), text)
            for user in present:
                pipe.set(keys.in_call(user), call.id)
            _free(pipe, call.id, gone)
            if deadline is None:
                pipe.zrem(keys.DEADLINES, call.id)
            else:
                pipe.zadd(keys.DEADLINES, {call.id: deadline})

        self.writes.append(write)

    def delete(self, call: Call) -> None:
        self.deleted[call.id] = call
        self.saved.pop(call.id, None)
        users = call.everyone()

        def write(pipe: Pipeline) -> None:
            pipe.delete(keys.call(call.id))
            _free(pipe, call.id, users)
            pipe.zrem(keys.DEADLINES, call.id)

        self.writes.append(write)


def _free(pipe: Pipeline, call_id: str, users: list[str]) -> None:
    """These users are no longer in this call: free, unless they are in another one by now (a call that was never
    saved, ended busy at once, frees nobody)."""
    for user in users:
        pipe.eval(FREE_IF_HERE, 1, keys.in_call(user), call_id)


def _decoded(key: str, raw: bytes | str) -> Call:
    try:
        return Call.from_json(raw)
    except (ValueError, TypeError, KeyError, AttributeError) as error:
        raise CorruptCall(f'{key} does not hold a call ({type(error).__name__})') from None
