"""The hub of several processes, over Redis: presence as leases, delivery by a channel per user.

Keys and channels (all prefixed `vc:`):

- `online` (hash user → `online` | `in_call` | `do_not_disturb`): who is online, as others see them; `dnd` (set):
  the online users with do not disturb on; `sessions:<user>` (set): their open sessions, one
  per account signed in on a browser; `leases` (sorted set `user␟session` → expiry): each session is held by
  the process that serves it, which renews the lease every second. A process that dies stops renewing: once its
  leases run out (`RECONNECT_GRACE_S`, the same absence a tab is allowed), any process sweeps them, and a user
  with no session left is offline, as after the grace period in one process.
- `devices:<user>` (hash device → instance, reload key): the tabs a call to that user rings, wherever they are;
  `devices-of:<instance>` (set): a process's tabs; `instance:<name>`: its heartbeat (3 s, holding a token of that
  run; cluster/instance_claim.py keeps a second process from starting under a live name). When a heartbeat is
  gone, the first process to notice claims the dead process's tabs: their calls see them as reconnecting (their
  browsers are on their way to another process) and they move to `lost:<user>` (hash, same entries) and the
  sorted set `lost` (`user␟device` → until when). A browser that comes back within the grace reloads its page
  on a live process, which finds the lost tab by its reload key and takes over its call, as after a reload;
  a lost tab not taken over by then is gone for good (its call ends `connection_lost`).
- Channels: `presence` (changes of presence, to every process), `user:<name>` (calls and signaling for that
  user's tabs, subscribed by the processes holding one), `logout` (a session ended by Log out, everywhere).
  Pub/sub may drop messages while a subscriber reconnects, so the state lives in keys, and a process re-reads
  what it shows (who is online, its users' calls) whenever its subscription comes back.

What this process sends it also delivers to its own tabs at once (a message from itself is skipped on arrival),
so one process with Redis is as quick as without. Messages that must leave the process go out in order through
one writer task; a message that does not parse is logged and dropped.

Leases and deadlines are compared across processes, so they come from one clock: Redis's (`TIME`), read every
tick as an offset to this machine's clock (`SharedClock`); a process whose own clock is off neither takes other
processes' users offline nor ends their calls early. A Redis that stops answering (lost, or hung: every command
has a time-out, voiceconnect/cluster/pool.py) is noticed by whichever loop meets it first, the subscription or the
upkeep of every tick: the tabs are told (`Reconnecting…`), `/healthz` answers 503, messages for other processes
are dropped rather than queued (the state is re-read when Redis is back), and the subscription comes back as soon
as Redis answers again.
"""

import asyncio
import contextlib
import functools
import hashlib
import json
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, ParamSpec, TypeVar

from redis.asyncio import Redis
from redis.asyncio.client import PubSub
from redis.exceptions import RedisError

from ..calls.machine import Call, ServiceUnavailable
from ..clock import Clock, LoopClock, SharedClock
from ..connections.events import (
    DoNotDisturbSet,
    MessagesChanged,
    MissedCallsSeen,
    OnlineUser,
    Presence,
    PresenceChange,
    Told,
)
from ..connections.hub import Endpoint, HubListener
from ..connections.local_tabs import LocalTabs
from . import instance_claim, keys
from .pool import OUTAGE

log = logging.getLogger('voiceconnect')
HEARTBEAT_S = instance_claim.HEARTBEAT_S
TICK_S = 1.0  # leases renewed, heartbeats beaten, the clock read, the dead swept this often
STOP_WAIT_S = 3.0

OPEN_SESSION = """
redis.call('SADD', KEYS[1], ARGV[1])
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[2])
if redis.call('HEXISTS', KEYS[3], ARGV[4]) == 1 then return false end
local state = 'online'
if redis.call('EXISTS', KEYS[4]) == 1 then state = 'in_call' end
redis.call('HSET', KEYS[3], ARGV[4], state)
return state
"""  # KEYS: sessions:<user>, leases, online, in-call:<user>; ARGV: session, lease member, expiry, user
CLOSE_SESSION = """
redis.call('SREM', KEYS[1], ARGV[1])
redis.call('ZREM', KEYS[2], ARGV[2])
if redis.call('SCARD', KEYS[1]) == 0 then
  redis.call('SREM', KEYS[4], ARGV[3])
  return redis.call('HDEL', KEYS[3], ARGV[3])
end
return 0
"""  # KEYS: sessions:<user>, leases, online, dnd; ARGV: session, lease member, user → 1 if that took the user offline
SET_PRESENCE = """
local current = redis.call('HGET', KEYS[1], ARGV[1])
local state = ARGV[2]
if state ~= 'in_call' and #KEYS > 2 and redis.call('EXISTS', KEYS[3]) == 1 then return false end
if state ~= 'in_call' and redis.call('SISMEMBER', KEYS[2], ARGV[1]) == 1 then state = 'do_not_disturb' end
if not current or current == state then return false end
redis.call('HSET', KEYS[1], ARGV[1], state)
return state
"""  # KEYS: online, dnd (, in-call:<user>); ARGV: user, in_call | online. Only for someone online, only a change
# counts; out of a call, someone with do not disturb on shows as that; someone in a call (by the third key: a
# member who left one group call and is in another by now) stays in it. Returns the new presence.


P = ParamSpec('P')
R = TypeVar('R')


def _shared_state(method: Callable[P, Coroutine[Any, Any, R]]) -> Callable[P, Coroutine[Any, Any, R]]:
    """A Redis that does not answer is ServiceUnavailable to the caller: a CallError, said to the person."""

    @functools.wraps(method)
    async def guarded(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return await method(*args, **kwargs)
        except OUTAGE as error:
            raise ServiceUnavailable() from error

    return guarded


def _text(value: Any) -> str:
    """What redis-py gives back (bytes), as text."""
    return value.decode() if isinstance(value, bytes) else str(value)


def token_digest(token: str) -> str:
    """What crosses Redis for a Log out: the session's hash, never the session itself."""
    return hashlib.sha256(token.encode()).hexdigest()


class RedisHub:
    """`clock`: a SharedClock is kept on Redis's time (the app's); any other clock is used as it is (tests)."""

    def __init__(self, redis: Redis, instance: str, lease_s: float, clock: Clock | None = None) -> None:
        self.redis = redis
        self.instance = instance
        self.clock = clock or LoopClock()
        self.token = instance_claim.token_of(instance)  # what this run's heartbeat holds
        self.lease_s = max(lease_s, 3 * TICK_S)  # renewed every tick: a lease must outlast a late one
        self.listener: HubListener | None = None
        self.on_call_heard: Callable[[Call], None] | None = None  # the call store's cache
        self._tabs = LocalTabs()  # the tabs of this process
        self._sessions: dict[str, str] = {}  # session → user: the sessions this process holds
        self._online: dict[str, Presence] = {}  # everyone online, as this process last heard
        self._pubsub: PubSub | None = None
        self._outbox: asyncio.Queue[Callable[[], Awaitable[Any]]] = asyncio.Queue()
        self._tasks: list[asyncio.Task[None]] = []
        self.healthy = False  # Redis answers and the subscription is up
        self._unsent = 0  # messages for other processes dropped while Redis was away
        self._stopping = False

    # start and stop

    async def start(self) -> None:
        self._open_session = self.redis.register_script(OPEN_SESSION)
        self._close_session = self.redis.register_script(CLOSE_SESSION)
        self._set_presence = self.redis.register_script(SET_PRESENCE)
        await self._sync_clock()
        self.healthy = True  # it answers: the calls of the tabs claimed next may change
        await self._claim_leftovers(self.instance)  # a restart: the tabs of this name's last run are gone
        await self.redis.sadd(keys.INSTANCES, self.instance)
        await self._beat()
        instance_claim.hand_over(self.instance)  # the hub beats from now on
        self._pubsub = self.redis.pubsub(ignore_subscribe_messages=True)
        await self._subscribe()
        self._tasks = [
            asyncio.create_task(self._write_forever(), name='hub outbox'),
            asyncio.create_task(self._listen_forever(), name='hub subscription'),
            asyncio.create_task(self._tick_forever(), name='hub leases'),
        ]

    async def stop(self) -> None:
        """Stop serving; the state stays in Redis (calls go on, leases run out if nobody takes them over). What is
        queued for other processes goes out first, for at most STOP_WAIT_S; the loops end even if a cancellation
        is swallowed inside redis-py (its pub/sub read has done so), since each checks `_stopping`."""
        try:
            await asyncio.wait_for(self._flush(), STOP_WAIT_S)
        except TimeoutError:
            log.warning('⚠️ Stopped with %d hub message(s) not sent', self._outbox.qsize())
        self._stopping = True
        for task in self._tasks:
            task.cancel()
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=STOP_WAIT_S)
        await self._close_pubsub()
        with contextlib.suppress(RedisError, OSError):  # stopped: the name is free for a restart at once
            await instance_claim.release(self.redis, self.instance, self.token)

    def listen(self, listener: HubListener) -> None:
        self.listener = listener

    # presence

    @_shared_state
    async def open_session(self, session: str, user: str) -> bool:
        self._sessions[session] = user
        state = await self._open_session(
            keys=[keys.sessions(user), keys.LEASES, keys.ONLINE, keys.in_call(user)],
            args=[session, user + keys.SEP + session, self.clock.now() + self.lease_s, user],
        )
        self._online.setdefault(user, Presence(_text(state)) if state else Presence.ONLINE)
        return bool(state)

    @_shared_state
    async def close_session(self, session: str, user: str) -> bool:
        self._sessions.pop(session, None)
        went = await self._close_session(
            keys=[keys.sessions(user), keys.LEASES, keys.ONLINE, keys.DND],
            args=[session, user + keys.SEP + session, user],
        )
        if went:
            self._online.pop(user, None)
        return bool(went)

    def is_online(self, user: str) -> bool:
        return user in self._online

    def online_users(self, excluding: str | None = None) -> tuple[OnlineUser, ...]:
        return tuple(
            OnlineUser(name, presence == Presence.IN_CALL, presence == Presence.DO_NOT_DISTURB)
            for name, presence in sorted(self._online.items())
            if name != excluding
        )

    def presence_of(self, user: str) -> Presence:
        return self._online.get(user, Presence.OFFLINE)

    @_shared_state
    async def set_do_not_disturb(self, user: str, on: bool) -> None:
        """Kept in the set `dnd` while the user is online; shown unless they are in a call."""
        if not self.is_online(user):
            return
        if on:
            await self.redis.sadd(keys.DND, user)
        else:
            await self.redis.srem(keys.DND, user)
        in_call = self.presence_of(user) == Presence.IN_CALL
        state = await self._set_presence(keys=[keys.ONLINE, keys.DND], args=[user, 'in_call' if in_call else 'online'])
        if state:
            self.publish_presence(PresenceChange(user, Presence(_text(state))))

    def publish_presence(self, *changes: PresenceChange) -> None:
        self._apply_presence(changes)
        self._tabs.presence_changed(changes)  # this process's tabs at once; the others through Redis
        message = json.dumps({'from': self.instance, 'changes': [[c.name, str(c.presence)] for c in changes]})
        self._send(lambda: self.redis.publish(keys.PRESENCE, message))

    # tabs

    @_shared_state
    async def attach(self, endpoint: Endpoint) -> None:
        first_here = self._tabs.add(endpoint)
        entry = json.dumps({'instance': self.instance, 'reload_key': endpoint.reload_key, 'at': self.clock.now()})
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.hset(keys.devices(endpoint.user), endpoint.id, entry)
            pipe.sadd(keys.devices_of(self.instance), endpoint.user + keys.SEP + endpoint.id)
            await pipe.execute()
        if first_here and self._pubsub is not None:
            await self._pubsub.subscribe(keys.user_channel(endpoint.user))

    @_shared_state
    async def detach(self, user: str, device: str) -> None:
        if self._tabs.remove(device) and self._pubsub is not None:
            await self._pubsub.unsubscribe(keys.user_channel(user))
        await self._forget_device(user, device)

    async def set_connected(self, device: str, connected: bool) -> None:
        self._tabs.set_connected(device, connected)

    @_shared_state
    async def devices_of(self, user: str) -> list[str]:
        entries = await self.redis.hgetall(keys.devices(user))
        found = sorted((json.loads(entry)['at'], _text(device)) for device, entry in entries.items())
        return [device for _, device in found]

    @_shared_state
    async def previous_document(self, user: str, reload_key: str, excluding: str) -> str | None:
        entries = await self.redis.hgetall(keys.devices(user))
        entries.update(await self.redis.hgetall(keys.lost(user)))  # tabs of a process that died
        for device, entry in entries.items():
            if json.loads(entry).get('reload_key') == reload_key and _text(device) != excluding:
                return _text(device)
        return None

    @property
    def connected_tabs(self) -> int:
        return self._tabs.connected

    # delivery

    def call_changed(self, call: Call) -> None:
        people = call.news_order()  # those whose tabs ring first: a ring is the most urgent
        self._tabs.call_changed(call, tuple(people))
        message = json.dumps({'from': self.instance, 'kind': 'call', 'call': call.to_json()})
        for user in people:
            self._send(functools.partial(self.redis.publish, keys.user_channel(user), message))
        self._send(lambda: self._follow(call))

    def relay(self, user: str, device: str, message: dict[str, Any]) -> None:
        if self._tabs.relay(device, message):
            return
        payload = json.dumps({'from': self.instance, 'kind': 'relay', 'device': device, 'message': message})
        self._send(lambda: self.redis.publish(keys.user_channel(user), payload))

    def tell(self, user: str, event: Told) -> None:
        self._tabs.tell(user, event)
        told = _told_as_data(event)
        message = json.dumps({'from': self.instance, 'kind': 'tell', **told})
        self._send(lambda: self.redis.publish(keys.user_channel(user), message))

    async def logged_out(self, token: str) -> None:
        """Tell every other process that this session was logged out."""
        message = json.dumps({'from': self.instance, 'token': token_digest(token)})
        self._send(lambda: self.redis.publish(keys.LOGOUT, message))
        await self._flush()

    # what comes from other processes

    def _hear(self, channel: str, data: bytes | str) -> None:
        try:
            message = json.loads(data)
            if message.get('from') == self.instance:
                return  # delivered here already, when it was sent
            if channel == keys.PRESENCE:
                changes = tuple(PresenceChange(name, Presence(presence)) for name, presence in message['changes'])
                self._apply_presence(changes)
                self._tabs.presence_changed(changes)
            elif channel == keys.LOGOUT:
                if self.listener is not None:
                    self._spawn(self.listener.session_logged_out(message['token']))
            elif message['kind'] == 'call':
                call = Call.from_json(message['call'])
                if self.on_call_heard is not None:
                    self.on_call_heard(call)
                self._tabs.call_changed(call, (channel.removeprefix(keys.USER_CHANNEL),))
            elif message['kind'] == 'relay':
                self._tabs.relay(message['device'], message['message'])
            elif message['kind'] == 'tell':
                self._tabs.tell(channel.removeprefix(keys.USER_CHANNEL), _told_of_data(message))
        except Exception as error:  # one bad message must not stop the subscription
            log.warning('⚠️ Dropped a hub message on %s that did not parse: %s', channel, type(error).__name__)

    def _apply_presence(self, changes: tuple[PresenceChange, ...]) -> None:
        for change in changes:
            if change.presence == Presence.OFFLINE:
                self._online.pop(change.name, None)
            else:
                self._online[change.name] = change.presence

    async def _follow(self, call: Call) -> None:
        """Who is in a call, in Redis too (a member who left is free); the people whose presence that changed are
        announced."""
        changed = []
        present = call.present_users() if call.live else []
        for user in call.everyone():
            presence = Presence.IN_CALL if user in present else Presence.ONLINE
            where = [keys.ONLINE, keys.DND, keys.in_call(user)]
            if state := await self._set_presence(keys=where, args=[user, str(presence)]):
                changed.append(PresenceChange(user, Presence(_text(state))))
        if changed:
            self._tabs.presence_changed(tuple(changed))
            self._apply_presence(tuple(changed))
            message = json.dumps({'from': self.instance, 'changes': [[c.name, str(c.presence)] for c in changed]})
            await self.redis.publish(keys.PRESENCE, message)

    # the subscription, the outbox, and the leases

    async def _subscribe(self) -> None:
        assert self._pubsub is not None
        await self._pubsub.subscribe(
            keys.PRESENCE, keys.LOGOUT, *(keys.user_channel(user) for user in self._tabs.users())
        )
        await self._reread()

    async def _reread(self) -> None:
        """Pub/sub drops what is sent while a subscriber is away: after (re)subscribing, read the state itself."""
        online = await self.redis.hgetall(keys.ONLINE)
        now = {_text(user): Presence(_text(state)) for user, state in online.items()}
        changes = [PresenceChange(user, state) for user, state in now.items() if self._online.get(user) != state]
        changes += [PresenceChange(user, Presence.OFFLINE) for user in self._online if user not in now]
        self._online = now
        if changes:
            self._tabs.presence_changed(tuple(changes))
        for user in self._tabs.users():
            call_id = await self.redis.get(keys.in_call(user))
            raw = await self.redis.get(keys.call(_text(call_id))) if call_id else None
            if raw and self.on_call_heard is not None:
                call = Call.from_json(raw)
                self.on_call_heard(call)
                self._tabs.call_changed(call, (user,))

    async def _listen_forever(self) -> None:
        while not self._stopping:
            if not self.healthy:  # noticed here or by the upkeep: a fresh subscription once Redis answers
                await self._come_back()
                continue
            assert self._pubsub is not None
            try:
                message = await self._pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
                if message is not None and message['type'] == 'message':
                    self._hear(_text(message['channel']), message['data'])
            except asyncio.CancelledError:
                raise
            except (RedisError, OSError) as error:
                self._lost(error)

    def _lost(self, error: Exception) -> None:
        """Redis went away or stopped answering: say so, once; the subscription loop brings it back."""
        if self.healthy:
            log.warning('⚠️ Lost Redis (%s); the app waits for it', type(error).__name__)
            self.healthy = False
            if self.listener is not None:
                self.listener.shared_state_lost()

    async def _come_back(self) -> None:
        """As soon as Redis answers: a new subscription, the state re-read, the leases renewed."""
        while not self._stopping:
            await asyncio.sleep(0.5)
            try:
                await self.redis.ping()
                await self._close_pubsub()
                self._pubsub = self.redis.pubsub(ignore_subscribe_messages=True)
                await self._subscribe()
                await self._sync_clock()
                await self._renew()
            except (RedisError, OSError):
                continue
            log.info('✅ Redis is back')
            if self._unsent:
                log.warning('⚠️ %d hub message(s) not sent while Redis was away; the state was re-read', self._unsent)
                self._unsent = 0
            self.healthy = True
            if self.listener is not None:
                self.listener.shared_state_back()
            return

    async def _close_pubsub(self) -> None:
        if self._pubsub is not None:
            with contextlib.suppress(RedisError, OSError, TimeoutError):
                await asyncio.wait_for(self._pubsub.aclose(), STOP_WAIT_S)

    def _send(self, write: Callable[[], Awaitable[Any]]) -> None:
        self._outbox.put_nowait(write)

    async def _flush(self) -> None:
        await self._outbox.join()

    async def _write_forever(self) -> None:
        while not self._stopping:
            write = await self._outbox.get()
            try:
                if self.healthy:
                    await write()
                else:  # each would wait out its time-out: dropped, and the state is re-read when Redis is back
                    self._unsent += 1
            except OUTAGE as error:
                self._unsent += 1
                self._lost(error)
            except RedisError as error:
                log.warning('⚠️ A hub message was not sent: %s', type(error).__name__)
            except Exception:
                log.exception('a hub message failed')
            finally:
                self._outbox.task_done()

    def _spawn(self, work: Awaitable[None]) -> None:
        task = asyncio.ensure_future(work)
        self._tasks.append(task)

        def done(finished: 'asyncio.Task[None]') -> None:
            if finished in self._tasks:
                self._tasks.remove(finished)

        task.add_done_callback(done)

    async def _tick_forever(self) -> None:
        while not self._stopping:
            await asyncio.sleep(TICK_S)
            if not self.healthy:
                continue
            try:
                await self._sync_clock()
                await self._beat()
                await self._renew()
                await self._sweep_leases()
                await self._sweep_instances()
                await self._sweep_lost()
            except OUTAGE as error:  # a hung Redis sends no error: a time-out of the upkeep is how it is noticed
                self._lost(error)
            except RedisError as error:
                log.warning('⚠️ Hub upkeep failed: %s', type(error).__name__)
            except Exception:
                log.exception('hub upkeep failed')

    async def _sync_clock(self) -> None:
        """A SharedClock follows Redis's clock: leases and deadlines mean the same to every process."""
        if isinstance(self.clock, SharedClock):
            asked = time.time()
            seconds, microseconds = await self.redis.time()
            answered = time.time()
            self.clock.offset = seconds + microseconds / 1e6 - (asked + answered) / 2

    async def _beat(self) -> None:
        await self.redis.set(keys.instance(self.instance), self.token, px=int(HEARTBEAT_S * 1000))

    async def _renew(self) -> None:
        expiry = self.clock.now() + self.lease_s
        for session, user in list(self._sessions.items()):
            state = await self._open_session(
                keys=[keys.sessions(user), keys.LEASES, keys.ONLINE, keys.in_call(user)],
                args=[session, user + keys.SEP + session, expiry, user],
            )
            if state:  # swept while this process was stalled: it is back
                self.publish_presence(PresenceChange(user, Presence(_text(state))))

    async def _sweep_leases(self) -> None:
        for member in await self.redis.zrangebyscore(keys.LEASES, '-inf', self.clock.now(), start=0, num=100):
            user, session = _text(member).split(keys.SEP, 1)
            session_keys = [keys.sessions(user), keys.LEASES, keys.ONLINE, keys.DND]
            went = await self._close_session(keys=session_keys, args=[session, _text(member), user])
            if went:
                self._online.pop(user, None)
                self.publish_presence(PresenceChange(user, Presence.OFFLINE))
                if self.listener is not None:
                    await self.listener.user_lost(user)

    async def _sweep_instances(self) -> None:
        for name in await self.redis.smembers(keys.INSTANCES):
            name = _text(name)
            if name == self.instance or await self.redis.exists(keys.instance(name)):
                continue
            if await self.redis.srem(keys.INSTANCES, name):  # this process claims the dead one
                log.info('🪦 %s stopped answering; its tabs are reconnecting elsewhere', name)
                await self._claim_leftovers(name)

    async def _claim_leftovers(self, instance: str) -> None:
        """The tabs a dead (or earlier) process held: their calls see them as reconnecting, and they wait in
        `lost` for their browsers to come back (on any process) until the grace runs out."""
        members = await self.redis.smembers(keys.devices_of(instance))
        await self.redis.delete(keys.devices_of(instance))
        until = self.clock.now() + self.lease_s
        for member in members:
            user, device = _text(member).split(keys.SEP, 1)
            entry = await self.redis.hget(keys.devices(user), device)
            async with self.redis.pipeline(transaction=True) as pipe:
                pipe.hdel(keys.devices(user), device)
                if entry is not None:
                    pipe.hset(keys.lost(user), device, entry)
                    pipe.zadd(keys.LOST, {_text(member): until})
                await pipe.execute()
            if self.listener is not None:
                await self.listener.device_lost(user, device)

    async def _sweep_lost(self) -> None:
        """Lost tabs whose browsers did not come back within the grace are gone for good."""
        for found in await self.redis.zrangebyscore(keys.LOST, '-inf', self.clock.now(), start=0, num=100):
            member = _text(found)
            if not await self.redis.zrem(keys.LOST, member):
                continue  # another process claimed it first
            user, device = member.split(keys.SEP, 1)
            if await self.redis.hdel(keys.lost(user), device) and self.listener is not None:
                await self.listener.device_gone(user, device)

    async def _forget_device(self, user: str, device: str) -> None:
        """Gone from the user's tabs, and from whichever process held it (here, or one gone since)."""
        entry = await self.redis.hget(keys.devices(user), device)
        holder = json.loads(entry)['instance'] if entry else self.instance
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.hdel(keys.devices(user), device)
            pipe.srem(keys.devices_of(holder), user + keys.SEP + device)
            pipe.hdel(keys.lost(user), device)  # taken over after its process died
            pipe.zrem(keys.LOST, user + keys.SEP + device)
            await pipe.execute()


def _told_as_data(event: Told) -> dict[str, Any]:
    if isinstance(event, MissedCallsSeen):
        return {'event': 'missed_seen'}
    if isinstance(event, MessagesChanged):
        return {'event': 'messages'}
    return {'event': 'dnd', 'on': event.on}


def _told_of_data(message: dict[str, Any]) -> Told:
    if message['event'] == 'missed_seen':
        return MissedCallsSeen()
    if message['event'] == 'messages':
        return MessagesChanged()
    return DoNotDisturbSet(bool(message['on']))
