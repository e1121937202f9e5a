"""The service layer: settings, database, accounts and the hub, started and stopped with the app."""

import asyncio
import logging

from .accounts import Accounts
from .calls import EndReason
from .clock import LoopClock
from .hub import Hub
from .recorder import CallRecorder
from .settings import Settings
from .store import Store

log = logging.getLogger('voiceconnect')


class Backend:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        self.store = Store(settings.database_url)
        clock = LoopClock()
        self.accounts = Accounts(self.store, clock, settings.limits)
        self.recorder = CallRecorder(self.store)
        self.hub = Hub(
            clock,
            grace_s=settings.reconnect_grace_s,
            ring_timeout_s=settings.ring_timeout_s,
            media_timeout_s=settings.media_timeout_s,
            recorder=self.recorder,
            limits=settings.limits,
        )
        self.ready = False
        self._started: asyncio.Future[None] | None = None

    async def start(self) -> None:
        """Idempotent: NiceGUI's test simulation may run start-up handlers more than once."""
        if self._started is None:
            self._started = asyncio.ensure_future(self._start())
        await self._started

    async def _start(self) -> None:
        await self.store.create_schema()
        if closed := await self.store.close_open_calls(EndReason.SERVER_RESTART):
            log.info('🔁 Closed %d call(s) left open by the last run: server_restart', closed)
        self.recorder.start()
        self.ready = True

    async def stop(self) -> None:
        if not self.ready:
            return
        self.ready = False
        self.hub.shutdown()
        await self.recorder.stop()
        await self.store.close()
