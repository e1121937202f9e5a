"""The hub: the app-level registry of connection services, presence, and delivery of call news.

In-memory for one process; presence and delivery are the parts a Redis-backed hub would replace.
"""

import logging
from typing import Any, Literal

from .calls import Call, CallManager, EndReason, Recorder
from .clock import Clock
from .connection import ConnectionService, Device
from .events import CallChanged, CallView, OnlineUser, PresenceChanged, SignedOut
from .ratelimit import Limits, RateLimiter

log = logging.getLogger('voiceconnect')


class Hub:
    def __init__(
        self,
        clock: Clock,
        *,
        grace_s: float,
        ring_timeout_s: float,
        media_timeout_s: float = 20.0,
        recorder: Recorder | None = None,
        limits: Limits | None = None,
    ) -> None:
        limits = limits or Limits()
        self.clock = clock
        self.grace_s = grace_s
        self.services: dict[tuple[str, str], ConnectionService] = {}  # (browser, user) → service
        self.devices: dict[str, Device] = {}
        self.calls = CallManager(
            self,
            clock,
            ring_timeout_s=ring_timeout_s,
            media_timeout_s=media_timeout_s,
            recorder=recorder,
            calls_per_minute=limits.calls_per_minute,
        )
        # signaling messages per device (one browser document); an excess is dropped before it is even parsed
        self.signals: RateLimiter[str] = RateLimiter(limits.signals_per_second, 1.0, clock, burst=limits.signal_burst)
        self._in_calls: set[str] = set()

    # the registry

    def service_for(self, browser: str, user: str, token: str) -> ConnectionService:
        """The user's connection service on this browser, created at sign-in or when a tab first attaches."""
        service = self.services.get((browser, user))
        if service is not None and service.token == token:
            return service
        if service is not None:  # signed in again on this browser with a fresh session: keep the tabs
            service.token = token
            return service
        was_online = self.is_online(user)
        service = ConnectionService(self, user, browser, token)
        self.services[(browser, user)] = service
        log.info('👤 User connected: %s', user)
        if not was_online:
            log.info('📞 User joined: %s', user)
            self.publish_presence()
        return service

    def end(self, service: ConnectionService, reason: Literal['logout', 'expired']) -> None:
        """Log out, or grace expiry: the service ends, its tabs are told, its user may go offline."""
        if service.ended:
            return
        service.ended = True
        if service.grace_timer is not None:
            service.grace_timer.cancel()
        self.services.pop((service.browser, service.user), None)
        for device_id in list(service.devices):
            self.devices.pop(device_id, None)
            self.calls.device_gone(device_id, deliberate=reason == 'logout')
        service.publish(SignedOut(reason))
        service.devices.clear()
        if not self.is_online(service.user):
            self.calls.user_gone(service.user)
            why = 'logged out' if reason == 'logout' else f'no tab connected for {self.grace_s:.0f}s'
            log.info('👋 User disconnected: %s (%s)', service.user, why)
            self.publish_presence()

    def log_out(self, token: str) -> None:
        """The session was logged out: every connection service signed in with it ends, whichever browser id it
        was opened under (a browser gets a new id at each Log out, and its older tabs keep the one they had)."""
        for service in [s for s in self.services.values() if s.token == token]:
            self.end(service, 'logout')

    def services_of(self, user: str) -> list[ConnectionService]:
        return [s for (_, u), s in self.services.items() if u == user]

    def is_online(self, user: str) -> bool:
        return any(u == user for _, u in self.services)

    def online_users(self, excluding: str | None = None) -> tuple[OnlineUser, ...]:
        names = sorted({u for _, u in self.services} - {excluding})
        in_calls = self.calls.users_in_calls()
        return tuple(OnlineUser(name, name in in_calls) for name in names)

    def publish_presence(self) -> None:
        for service in list(self.services.values()):
            service.publish(PresenceChanged(self.online_users(excluding=service.user)))

    # Delivery, for the call manager

    def devices_of(self, user: str) -> list[str]:
        """Devices a call to `user` rings: every attached tab. A tab whose socket is away for a moment gets the
        ring when it reconnects (NiceGUI replays missed messages), so a blip never turns a call into "offline"."""
        return [d for s in self.services_of(user) for d in s.devices]

    def call_changed(self, call: Call) -> None:
        for user in (call.callee, call.caller):  # the callee first: a ring is the most urgent news
            for service in self.services_of(user):
                for device in list(service.devices.values()):
                    device.deliver(CallChanged(CallView.of(call, user, device.id)))
        in_calls = self.calls.users_in_calls()
        if in_calls != self._in_calls:
            self._in_calls = in_calls
            self.publish_presence()

    def relay(self, device: str, message: dict[str, Any]) -> None:
        if (target := self.devices.get(device)) is not None:
            target.tab.relay(message)

    def shutdown(self) -> None:
        self.calls.end_all(EndReason.SERVER_RESTART)
