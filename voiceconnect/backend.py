"""The service layer: settings, database, accounts, call history and the switchboard, started and stopped with
the app. With `REDIS_URL` the hub and the live calls are shared through Redis (several processes); without it
they live in this process's memory."""

import asyncio
import logging
from typing import Any

from redis.asyncio import Redis

from .calls.bridging import BridgeRouter
from .calls.machine import EndReason
from .clock import LoopClock, SharedClock
from .cluster.pool import connect
from .cluster.switchboard import shared_switchboard
from .connections.device import Device
from .connections.memory_hub import InMemoryHub
from .connections.session_sweep import SessionSweep
from .connections.switchboard import Switchboard
from .people.accounts import Accounts
from .people.db import Store
from .people.directory import People
from .people.history import CallHistory
from .people.messages import Mailbox
from .settings import Settings

log = logging.getLogger('voiceconnect')


class Backend:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        self.store = Store(settings.database_url)
        # several processes compare times (leases, call deadlines, session expiry): they all read Redis's clock
        self.clock = SharedClock() if settings.redis_url else LoopClock()
        self.accounts = Accounts(self.store, self.clock, settings.limits)
        self.history = CallHistory(self.store)
        self.people = People(self.store, self._mailbox(settings))
        self.redis: Redis | None = None
        if settings.redis_url:  # a fixed pool of connections, and a time-out on every command
            self.redis = connect(settings.redis_url, settings.redis_timeout_s, settings.redis_pool_size)
        # the audio bridge for group calls past MESH_MAX: this process's own Janus session, opened on first need
        self.bridge: BridgeRouter | None = None
        if settings.janus_url and settings.group_media != 'mesh':
            self.bridge = BridgeRouter(
                settings.janus_url,
                self._relay,
                api_secret=settings.janus_api_secret,
                admin_key=settings.janus_admin_key,
            )
        if self.redis is not None:
            self.switchboard = shared_switchboard(
                self.redis,
                settings.instance_name,
                self.clock,
                self.history,
                settings.timeouts,
                settings.limits,
                self.people,
                bridge=self.bridge,
                group_media=settings.group_media,
            )
        else:
            self.switchboard = Switchboard(
                self.clock,
                InMemoryHub(),
                self.history,
                settings.timeouts,
                settings.limits,
                people=self.people,
                bridge=self.bridge,
                group_media=settings.group_media,
            )
        self.hub = self.switchboard.hub
        # sessions end at once when they end in the store (the admin command, expiry): before each call action,
        # and every few seconds for every tab and program socket of this process
        self.switchboard.session_check = self.accounts.session_ended
        self.session_sweep = SessionSweep(self.accounts, self.switchboard, self.clock)
        self.ready = False
        self._started: asyncio.Future[None] | None = None

    def _mailbox(self, settings: Settings) -> Mailbox | None:
        """The messages callers leave (VOICEMAIL), in the data dir: shared by processes that share it."""
        if not settings.voicemail:
            return None
        folder = settings.data_dir / 'messages'
        return Mailbox(self.store, folder, settings.voicemail_messages_per_user, settings.voicemail_bytes_per_user)

    def _relay(self, user: str, device: str, message: dict[str, Any]) -> None:
        """Janus's answers go to the tab like any relayed signal (the hub is made after the bridge)."""
        self.switchboard.hub.relay(user, device, message)

    @property
    def shared(self) -> bool:
        """Whether calls and presence live in Redis (and so outlive this process)."""
        return self.redis is not None

    @property
    def healthy(self) -> bool:
        return self.ready and self.hub.healthy

    async def start(self) -> None:
        """Idempotent: NiceGUI's test simulation may run start-up handlers more than once."""
        if self._started is None:
            self._started = asyncio.ensure_future(self._start())
        await self._started

    async def _start(self) -> None:
        await self.store.create_schema()
        await self.hub.start()
        self.switchboard.calls.store.start()
        still_live = self.switchboard.calls.store.still_live  # with Redis, other processes may carry them on
        if closed := await self.store.close_open_calls(EndReason.SERVER_RESTART, still_live=still_live):
            log.info('🔁 Closed %d call(s) left open by the last run: server_restart', closed)
        self.history.start()
        self.session_sweep.start()
        self.ready = True

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
        await self.switchboard.calls.store.stop()
        if self.bridge is not None:
            await self.bridge.close()
        await self.hub.stop()
        await self.history.stop()
        await self.store.close()
        if self.redis is not None:
            await self.redis.aclose()
