"""The service layer: settings, database, accounts, call history and the switchboard, started and stopped with
the app. With `REDIS_URL` the hub and the live calls are shared through Redis (several processes); without it
they live in this process's memory."""

import asyncio
import logging

from redis.asyncio import Redis

from .accounts import Accounts
from .calls import EndReason
from .clock import Clock, LoopClock, SharedClock
from .device import Device, History
from .history import CallHistory
from .memory_hub import InMemoryHub
from .people import People
from .ratelimit import Limits
from .redis_hub import RedisHub
from .redis_pool import connect
from .redis_store import RedisCallStore, call_key
from .session_sweep import SessionSweep
from .settings import Settings
from .store import Store
from .switchboard import Switchboard, Timeouts

log = logging.getLogger('voiceconnect')


def shared_switchboard(
    redis: Redis,
    instance: str,
    clock: Clock,
    history: History,
    timeouts: Timeouts,
    limits: Limits,
    people: People | None = None,
) -> Switchboard:
    """The switchboard of one of several processes: hub and live calls in Redis, this process named `instance`.
    A SharedClock is kept on Redis's clock by the hub: the leases and deadlines every process compares."""
    hub = RedisHub(redis, instance, lease_s=timeouts.reconnect_grace_s, clock=clock)
    board = Switchboard(
        clock,
        hub,
        history,
        timeouts,
        limits,
        store=lambda on_deadline: RedisCallStore(redis, clock, on_deadline, healthy=lambda: hub.healthy),
        people=people,
    )
    assert isinstance(board.calls.store, RedisCallStore)
    hub.on_call_heard = board.calls.store.heard  # news of other processes' commits keeps the cache current
    return board


class Backend:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        self.store = Store(settings.database_url)
        # several processes compare times (leases, call deadlines, session expiry): they all read Redis's clock
        self.clock = SharedClock() if settings.redis_url else LoopClock()
        self.accounts = Accounts(self.store, self.clock, settings.limits)
        self.history = CallHistory(self.store)
        self.redis: Redis | None = None
        if settings.redis_url:  # a fixed pool of connections, and a time-out on every command
            self.redis = connect(settings.redis_url, settings.redis_timeout_s, settings.redis_pool_size)
        if self.redis is not None:
            self.switchboard = shared_switchboard(
                self.redis,
                settings.instance_name,
                self.clock,
                self.history,
                settings.timeouts,
                settings.limits,
                People(self.store),
            )
        else:
            self.switchboard = Switchboard(
                self.clock,
                InMemoryHub(),
                self.history,
                settings.timeouts,
                settings.limits,
                people=People(self.store),
            )
        self.hub = self.switchboard.hub
        # sessions end at once when they end in the store (the admin command, expiry): before each call action,
        # and every few seconds for every tab and program socket of this process
        self.switchboard.session_check = self.accounts.session_ended
        self.session_sweep = SessionSweep(self.accounts, self.switchboard, self.clock)
        self.ready = False
        self._started: asyncio.Future[None] | None = None

    @property
    def shared(self) -> bool:
        """Whether calls and presence live in Redis (and so outlive this process)."""
        return self.redis is not None

    @property
    def healthy(self) -> bool:
        return self.ready and (not isinstance(self.hub, RedisHub) or self.hub.healthy)

    async def start(self) -> None:
        """Idempotent: NiceGUI's test simulation may run start-up handlers more than once."""
        if self._started is None:
            self._started = asyncio.ensure_future(self._start())
        await self._started

    async def _start(self) -> None:
        await self.store.create_schema()
        await self.hub.start()
        if isinstance(self.switchboard.calls.store, RedisCallStore):
            self.switchboard.calls.store.start()
        if closed := await self.store.close_open_calls(EndReason.SERVER_RESTART, still_live=self._still_live):
            log.info('🔁 Closed %d call(s) left open by the last run: server_restart', closed)
        self.history.start()
        self.session_sweep.start()
        self.ready = True

    async def _still_live(self, call_ids: list[str]) -> set[str]:
        """Of these open rows, the calls that are still going on (in Redis: other processes carry them)."""
        if self.redis is None or not call_ids:
            return set()
        found = await self.redis.mget([call_key(call_id) for call_id in call_ids])
        return {call_id for call_id, raw in zip(call_ids, found, strict=True) if raw is not None}

    async def log_out(self, device: Device) -> None:
        """Log out the device's session: signed out in the store, ended on every tab that uses it."""
        if (token := self.switchboard.token_of(device)) is not None:
            await self.accounts.sign_out(token)
            await self.switchboard.log_out_session(token)

    async def stop(self) -> None:
        """Graceful stop. In one process the calls end (`server_restart`); with Redis they go on, and the tabs
        come back to this process after its restart, or to another one."""
        if not self.ready:
            return
        self.ready = False
        self.session_sweep.stop()
        if not self.shared:
            await self.switchboard.shutdown()
        if isinstance(self.switchboard.calls.store, RedisCallStore):
            await self.switchboard.calls.store.stop()
        await self.hub.stop()
        await self.history.stop()
        await self.store.close()
        if self.redis is not None:
            await self.redis.aclose()
