"""The service layer: settings, database, accounts, call history and the switchboard, started and stopped with
the app."""

import asyncio
import logging

from .accounts import Accounts
from .calls import EndReason
from .clock import LoopClock
from .device import Device
from .history import CallHistory
from .memory_hub import InMemoryHub
from .settings import Settings
from .store import Store
from .switchboard import Switchboard

log = logging.getLogger('voiceconnect')


class Backend:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        self.store = Store(settings.database_url)
        clock = LoopClock()
        self.accounts = Accounts(self.store, clock, settings.limits)
        self.history = CallHistory(self.store)
        self.switchboard = Switchboard(clock, InMemoryHub(), self.history, settings.timeouts, settings.limits)
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
        self.history.start()
        self.ready = True

    async def log_out(self, device: Device) -> None:
        """Log out the device's session: signed out in the store, ended on every tab that uses it."""
        if (token := self.switchboard.token_of(device)) is not None:
            await self.accounts.sign_out(token)
            await self.switchboard.log_out_session(token)

    async def stop(self) -> None:
        if not self.ready:
            return
        self.ready = False
        await self.switchboard.shutdown()
        await self.history.stop()
        await self.store.close()
