"""NiceGUI's storage in Redis on a fixed number of connections (NiceGUI 3.18 `Storage._create_persistent_dict`,
`RedisPersistentDict`, `RequestTrackingMiddleware`).

Upstream, with NICEGUI_REDIS_URL every browser id and every tab gets a `RedisPersistentDict` with a Redis client of
its own (its own pool) and a pub/sub connection and listener task of its own, closed only once
`prune_user_storage` finds the browser without a client for 10 s; and the request middleware makes a new browser
id, so such a dict, for every request that comes without a session cookie, `/healthz` included. 200 curls held
200 Redis connections; some 170 `GET /login` a second reached Redis's 10,000 client limit and took every process
of the app down. Its commands have no time-out either: a hung Redis hung every request of a new browser.

Here every dict of the process shares one client with a bounded pool (voiceconnect/cluster/pool.py: every command
with a time-out) and one pub/sub connection carrying the change channels of all of them (a dict's channel is
subscribed while it is open), and a browser id that the middleware makes for this very request is not looked up
at all: nothing is stored under an id nobody has seen. The connections a process holds no longer grow with
requests, browsers or tabs.

What upstream does otherwise stays: the same keys, the same JSON, the same expiry for tabs; a change is written
and published on the dict's channel, and other processes' changes arrive on it (after a lost subscription the
open dicts are read again). A dict whose data could not be read (Redis away) keeps what it is given in memory
but writes nothing back, so it never overwrites what Redis holds; the browser's next visit reads it again.

`tests/web/test_nicegui_fixes.py` shows NiceGUI alone opening a connection per browser id.
"""

import asyncio
import contextlib
import contextvars
import logging
import uuid
from collections.abc import Callable
from typing import Any

from nicegui import app, background_tasks, json
from nicegui.persistence import PersistentDict, RedisPersistentDict
from nicegui.persistence.serialization import dumps
from nicegui.storage import TAB_PREFIX, TTL_BUFFER_SECONDS, USER_PREFIX, RequestTrackingMiddleware, Storage
from redis.asyncio import Redis
from redis.asyncio.client import PubSub
from redis.exceptions import RedisError
from starlette.requests import Request
from starlette.responses import Response

from voiceconnect.cluster.pool import connect

log = logging.getLogger('voiceconnect')
CHANNEL_SUFFIX = 'changes'  # upstream's: a dict's changes are published on its key + 'changes'
RETRY_AFTER_S = 1.0

_minted: contextvars.ContextVar[str | None] = contextvars.ContextVar('vc_minted_browser_id', default=None)


class ChangeFeed:
    """One client (a bounded pool) and one pub/sub connection for every storage dict of this process."""

    def __init__(self, redis: Redis) -> None:
        self.redis = redis
        self._dicts: dict[str, SharedRedisDict] = {}  # channel → the open dict it carries changes for
        self._pubsub: PubSub | None = None
        self._listener: asyncio.Task[None] | None = None
        self._heard_all = True  # False after a lost subscription: the open dicts may have missed changes
        self._warned = False

    async def follow(self, storage: 'SharedRedisDict') -> None:
        channel = storage.key + CHANNEL_SUFFIX
        self._dicts[channel] = storage
        if self._listener is None:
            self._listener = asyncio.create_task(self._listen_forever(), name='storage changes')
        if self._pubsub is not None:
            with contextlib.suppress(RedisError, OSError):  # the listener subscribes it again when it reconnects
                await self._pubsub.subscribe(channel)

    async def unfollow(self, storage: 'SharedRedisDict') -> None:
        channel = storage.key + CHANNEL_SUFFIX
        if self._dicts.get(channel) is storage:
            del self._dicts[channel]
            if self._pubsub is not None:
                with contextlib.suppress(RedisError, OSError):
                    await self._pubsub.unsubscribe(channel)

    def problem(self, what: str, error: Exception | None = None) -> None:
        """Redis did not answer: said once until it answers again, not once per browser."""
        if not self._warned:
            why = f' ({type(error).__name__})' if error is not None else ''
            log.warning('⚠️ NiceGUI storage: %s%s; said once until Redis answers', what, why)
            self._warned = True

    def answered(self) -> None:
        self._warned = False

    async def close(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
            await asyncio.wait([self._listener], timeout=3)
        await self._close_pubsub()
        with contextlib.suppress(RedisError, OSError):
            await self.redis.aclose()

    async def _listen_forever(self) -> None:
        while True:
            try:
                if self._pubsub is None:
                    await self._connect()
                    continue
                if not self._pubsub.subscribed:
                    await asyncio.sleep(RETRY_AFTER_S)  # nothing open right now
                    continue
                message = await self._pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
                if message is not None and message['type'] == 'message':
                    self._apply(message['channel'], message['data'])
            except asyncio.CancelledError:
                raise
            except (RedisError, OSError) as error:
                self.problem('changes from other processes are not heard', error)
                self._heard_all = False
                await self._close_pubsub()
                await asyncio.sleep(RETRY_AFTER_S)

    async def _connect(self) -> None:
        """A subscription to every open dict's channel; after a lost one, what changed meanwhile is read again."""
        self._pubsub = self.redis.pubsub()  # a dict opened from now on subscribes on it itself
        if self._dicts:
            await self._pubsub.subscribe(*self._dicts)
        if not self._heard_all:
            for storage in list(self._dicts.values()):
                await storage.reread()
            self._heard_all = True
        self.answered()

    def _apply(self, channel: bytes | str, data: bytes | str) -> None:
        name = _text(channel)
        if (storage := self._dicts.get(name)) is None:
            return
        try:
            changed = json.loads(_text(data))
        except ValueError:
            log.warning('⚠️ NiceGUI storage: dropped a change on %s that is not JSON', name[:80])
            return
        if isinstance(changed, dict):
            storage.replace(changed)

    async def _close_pubsub(self) -> None:
        pubsub, self._pubsub = self._pubsub, None
        if pubsub is not None:
            with contextlib.suppress(RedisError, OSError, TimeoutError):
                await asyncio.wait_for(pubsub.aclose(), 3)


class SharedRedisDict(RedisPersistentDict):
    """A RedisPersistentDict (same key, JSON, expiry and channel) over the process's `ChangeFeed`. `fresh`: the id
    was made for this very request, so nothing can be stored under it yet and it is not read."""

    def __init__(self, feed: ChangeFeed, key: str, ttl: int | None, fresh: bool) -> None:
        # not RedisPersistentDict.__init__: it makes a client and a pub/sub connection of its own
        PersistentDict.__init__(self, data={}, on_change=self.publish)
        self.feed = feed
        self.key_prefix = Storage.redis_key_prefix
        self.key = key
        self.ttl = ttl
        self.loaded = fresh  # what Redis holds is known (there is nothing, or it was read): writing is safe
        self._following = False
        self._closed = False
        self._quiet = False  # applying what Redis holds: not a change to write back

    async def initialize(self) -> None:
        if self.loaded:
            return  # made for this request: followed once something is written
        if await self.reread():
            await self._follow()

    async def _follow(self) -> None:
        if not self._following and not self._closed:
            self._following = True
            await self.feed.follow(self)

    def initialize_sync(self) -> None:
        raise RuntimeError('SharedRedisDict is made in async code only (the app storage of NiceGUI stays upstream)')

    async def reread(self) -> bool:
        """Take what Redis holds (at the start, and after a lost subscription); False if it does not answer."""
        try:
            data = await self.feed.redis.get(self.key)
        except (RedisError, OSError) as error:
            self.feed.problem(f'could not read {self.key}', error)
            return False
        self.replace(json.loads(_text(data)) if data else {})
        self.loaded = True
        return True

    async def inherit(self, id: str) -> None:
        """Take over the data stored under another id (a duplicated tab)."""
        key = self.key_prefix + id
        try:
            if data := await self.feed.redis.get(key):
                self.update(json.loads(_text(data)))
        except (RedisError, OSError) as error:
            self.feed.problem(f'could not read {key}', error)

    def replace(self, data: dict[str, Any]) -> None:
        """Become `data` without writing it back (it is what Redis holds)."""
        if data == self:
            return
        self._quiet = True
        try:
            for key in set(self) - data.keys():  # one by one: clear() would delete the key in Redis
                del self[key]
            self.update(data)
        finally:
            self._quiet = False

    def publish(self) -> None:
        if self._quiet:
            return
        if not self.loaded:
            self.feed.problem(f'{self.key} could not be read, so changes to it are kept in memory only')
            return
        background_tasks.create_lazy_or_defer(self._write(), name=f'redis-{self.key}')

    async def _write(self) -> None:
        """Write the dict as it is now and tell the other processes (an empty one is deleted)."""
        try:
            async with self.feed.redis.pipeline(transaction=True) as pipe:
                data = dumps(self, self.key)
                if self:
                    pipe.set(self.key, data, ex=self.ttl)
                else:
                    pipe.delete(self.key)
                pipe.publish(self.key + CHANNEL_SUFFIX, data)
                await pipe.execute()
        except (RedisError, OSError) as error:
            self.feed.problem(f'could not write {self.key}', error)
            return
        self.feed.answered()
        await self._follow()  # written for the first time (a new browser): other processes' changes from now on

    async def close(self) -> None:
        self._closed = True
        await self.feed.unfollow(self)

    def clear(self) -> None:
        PersistentDict.clear(self)  # written as empty, so deleted, in order with the writes before and after


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


_feeds: dict[asyncio.AbstractEventLoop, ChangeFeed] = {}  # one per event loop (tests run several)
_settings: dict[str, Any] = {}
_upstream_create: Callable[[str], PersistentDict] = Storage._create_persistent_dict
_upstream_dispatch = RequestTrackingMiddleware.dispatch


def _feed() -> ChangeFeed:
    loop = asyncio.get_running_loop()
    if (feed := _feeds.get(loop)) is None:
        assert Storage.redis_url is not None
        feed = _feeds[loop] = ChangeFeed(connect(Storage.redis_url, _settings['timeout_s'], _settings['pool_size']))
    return feed


def create_persistent_dict(id: str) -> PersistentDict:
    """`Storage._create_persistent_dict`: a SharedRedisDict for browsers and tabs when NiceGUI uses Redis."""
    if not Storage.redis_url or not id.startswith((USER_PREFIX, TAB_PREFIX)):
        return _upstream_create(id)
    ttl = int(app.storage.max_tab_storage_age + TTL_BUFFER_SECONDS) if id.startswith(TAB_PREFIX) else None
    fresh = id == f'{USER_PREFIX}{_minted.get()}'
    return SharedRedisDict(_feed(), Storage.redis_key_prefix + id, ttl, fresh)


async def dispatch(self: RequestTrackingMiddleware, request: Request, call_next: Any) -> Response:
    """`RequestTrackingMiddleware.dispatch`: a request without a browser id gets its new id here, known as new."""
    if 'id' not in request.session:
        request.session['id'] = str(uuid.uuid4())
        _minted.set(request.session['id'])
    response: Response = await _upstream_dispatch(self, request, call_next)
    return response


async def _close_feeds() -> None:
    for loop, feed in list(_feeds.items()):
        if loop is asyncio.get_running_loop():
            del _feeds[loop]
            await feed.close()


def install(timeout_s: float, pool_size: int) -> None:
    _settings.update(timeout_s=timeout_s, pool_size=pool_size)
    if Storage._create_persistent_dict is not create_persistent_dict:
        Storage._create_persistent_dict = staticmethod(create_persistent_dict)  # type: ignore[method-assign]
        RequestTrackingMiddleware.dispatch = dispatch  # type: ignore[method-assign]
        app.on_shutdown(_close_feeds)
