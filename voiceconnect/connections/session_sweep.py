"""The sessions this process serves are checked against the store every few seconds, with one query for all.

A session can end outside this process: the admin command changed the password or removed the account (it runs
as a process of its own on the same database, also while the app runs), a sign-in elsewhere pushed it past
SESSIONS_PER_USER, or it reached SESSION_MAX_AGE_S. Its tabs and program sockets here then end as at a Log out,
told why (`revoked`, `session_expired`). The same look marks the sessions with a connected tab or program as in
use, which is what SESSION_IDLE_S counts from; and every few minutes the store forgets the sessions nobody can
resume any more. Call actions do not wait for the sweep: each checks its own session first (Switchboard).
"""

import logging

from ..clock import Clock, Timer
from ..people.accounts import Accounts
from .switchboard import Switchboard

log = logging.getLogger('voiceconnect')

SWEEP_EVERY_S = 2.0
FORGET_EVERY_S = 600.0


class SessionSweep:
    def __init__(
        self, accounts: Accounts, switchboard: Switchboard, clock: Clock, every_s: float = SWEEP_EVERY_S
    ) -> None:
        self.accounts = accounts
        self.switchboard = switchboard
        self.clock = clock
        self.every_s = every_s
        self._timer: Timer | None = None
        self._forgotten_at: float | None = None
        self._failing = False

    def start(self) -> None:
        if self._timer is None:
            self._timer = self.clock.call_later(self.every_s, self._tick)

    def stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    async def _tick(self) -> None:
        try:
            await self.sweep()
        except Exception as error:  # the database is busy or away: try again at the next tick, say so once
            if not self._failing:
                reason = (str(error).splitlines() or [type(error).__name__])[0][:200]
                log.warning('⚠️ Could not check the sessions in the database: %s', reason)
            self._failing = True
        else:
            self._failing = False
        if self._timer is not None:
            self._timer = self.clock.call_later(self.every_s, self._tick)

    async def sweep(self) -> None:
        """End the sessions of this process that ended in the store; mark the rest in use if a tab is connected."""
        services = list(self.switchboard.services.values())
        tokens = {service.token for service in services}
        in_use = {service.token for service in services if service.connected}
        for token, why in (await self.accounts.check_sessions(tokens, in_use)).items():
            await self.switchboard.end_session(token, why)
        now = self.clock.now()
        if self._forgotten_at is None or now - self._forgotten_at >= FORGET_EVERY_S:
            self._forgotten_at = now
            await self.accounts.forget_expired_sessions()
