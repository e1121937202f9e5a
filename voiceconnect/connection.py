"""The connection service: one per account signed in on a browser, owned by the user, not by a page.

Tabs attach to it and detach from it; a reload or a network blip only detaches a tab for a moment. The
service ends on `Log out`, or when none of its tabs has been connected for `RECONNECT_GRACE_S`.

`Device` is what a page author holds: this tab's handle on its user's connection.
"""

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from .calls import CallError, CallManager
from .clock import Timer
from .events import CallChanged, CallView, Event, OnlineUser, PresenceChanged, SignedOut
from .ratelimit import Limited
from .signals import parse_signal

if TYPE_CHECKING:
    from .hub import Hub

E = TypeVar('E', bound=Event)
log = logging.getLogger('voiceconnect')
Handler = Callable[[Any], None]


class SignalsDropped(CallError):
    """This tab sent more signaling than allowed; the excess was dropped (said once a minute, not per message)."""


class Tab(Protocol):
    """A browser tab as the core sees it (pages/ implements it over a NiceGUI client)."""

    def deliver(self, event: Event) -> None: ...

    def relay(self, message: dict[str, Any]) -> None: ...


class ConnectionService:
    def __init__(self, hub: 'Hub', user: str, browser: str, token: str) -> None:
        self.hub = hub
        self.user = user
        self.browser = browser
        self.token = token
        self.devices: dict[str, Device] = {}
        self.connected: set[str] = set()
        self.grace_timer: Timer | None = None
        self.ended = False

    def attach(self, device_id: str, tab: Tab, tab_key: str | None = None) -> 'Device':
        """A tab's document attaches. `tab_key` names the browser tab across reloads (NiceGUI's tab id, kept in
        the tab's sessionStorage): if the previous document of the same tab is still attached (its grace has
        not run out), this one takes over its calls."""
        device = Device(self, device_id, tab, tab_key)
        previous = self._previous_document(tab_key, device_id)
        self.devices[device_id] = device
        self.hub.devices[device_id] = device
        self.set_connected(device_id, True)
        if previous is not None:
            self.devices.pop(previous.id, None)
            self.hub.devices.pop(previous.id, None)
            self.connected.discard(previous.id)
            self.hub.calls.move_device(previous.id, device_id)
        return device

    def _previous_document(self, tab_key: str | None, device_id: str) -> 'Device | None':
        if tab_key is None:
            return None
        return next((d for d in self.devices.values() if d.tab_key == tab_key and d.id != device_id), None)

    def detach(self, device_id: str) -> None:
        """The tab is gone for good (closed, or its document replaced)."""
        self.set_connected(device_id, False)
        self.devices.pop(device_id, None)
        self.hub.devices.pop(device_id, None)
        self.hub.calls.device_gone(device_id)

    def set_connected(self, device_id: str, connected: bool) -> None:
        if device_id not in self.devices:
            return
        self.hub.calls.set_away(device_id, away=not connected)
        if connected:
            self.connected.add(device_id)
            if self.grace_timer is not None:
                self.grace_timer.cancel()
                self.grace_timer = None
        else:
            self.connected.discard(device_id)
            if not self.connected and self.grace_timer is None and not self.ended:
                self.grace_timer = self.hub.clock.call_later(self.hub.grace_s, lambda: self.hub.end(self, 'expired'))

    def publish(self, event: Event) -> None:
        for device in list(self.devices.values()):
            device.deliver(event)


class Device:
    """This tab's handle on its user's connection: who am I, who is online, my call, events, call actions."""

    def __init__(self, service: ConnectionService, device_id: str, tab: Tab, tab_key: str | None = None) -> None:
        self.service = service
        self.id = device_id
        self.tab = tab
        self.tab_key = tab_key
        self._handlers: dict[type, list[Handler]] = {}

    @property
    def user(self) -> str:
        return self.service.user

    @property
    def hub(self) -> 'Hub':
        return self.service.hub

    def online_users(self) -> tuple[OnlineUser, ...]:
        return self.hub.online_users(excluding=self.user)

    @property
    def call(self) -> CallView | None:
        """The user's live call as this tab sees it, if any."""
        call = self.hub.calls.live_call_of(self.user)
        return CallView.of(call, self.user, self.id) if call else None

    def on(self, event_type: type[E], handler: Callable[[E], None]) -> Callable[[], None]:
        """Subscribe to PresenceChanged, CallChanged or SignedOut; returns the unsubscribe function."""
        handlers = self._handlers.setdefault(event_type, [])
        handlers.append(handler)
        return lambda: handler in handlers and handlers.remove(handler)  # type: ignore[func-returns-value]

    def deliver(self, event: Event) -> None:
        for target in (self.tab.deliver, *self._handlers.get(type(event), [])):
            try:
                target(event)
            except Exception:  # one broken page handler must not keep the news from the others
                log.exception('an event handler of %s failed on %s', self.user, type(event).__name__)

    # call actions; each raises CallError with a message for the person

    @property
    def calls(self) -> CallManager:
        """The call manager, for a tab that is still attached to a live connection service."""
        if self.service.ended or self.hub.devices.get(self.id) is not self:
            raise CallError('You are signed out here.')
        return self.hub.calls

    def call_user(self, name: str) -> CallView:
        call = self.calls.place_call(self.user, self.id, name)
        return CallView.of(call, self.user, self.id)

    def accept(self, call_id: str) -> None:
        self.calls.accept(call_id, self.user, self.id)

    def decline(self, call_id: str) -> None:
        self.calls.decline(call_id, self.user, self.id)

    def hang_up(self, call_id: str) -> None:
        self.calls.hang_up(call_id, self.user, self.id)

    def set_muted(self, call_id: str, muted: bool) -> None:
        self.calls.set_muted(call_id, self.user, self.id, muted)

    def signal(self, data: object) -> None:
        """A message from this tab's browser module; invalid ones raise ValueError/CallError. Beyond
        `SIGNALS_PER_SECOND` (after a burst of `SIGNAL_BURST`) messages are dropped unread: the first drop, and then
        one a minute, raises SignalsDropped; the others are dropped quietly."""
        if (limited := self.hub.signals.hit(self.id)) is not None:
            self._drop_signal(limited)
            return
        self.calls.handle_signal(self.user, self.id, parse_signal(data))

    def _drop_signal(self, limited: Limited) -> None:
        if limited.report:
            log.warning(
                '⚠️ Rate limited: signaling from %s (%d dropped, retry in %s; reported once a minute)',
                self.user,
                limited.refused,
                limited.wait,
            )
            raise SignalsDropped('This tab sent too many call signals; some were dropped. The call may fail.')


__all__ = [
    'CallChanged',
    'CallError',
    'ConnectionService',
    'Device',
    'PresenceChanged',
    'SignalsDropped',
    'SignedOut',
    'Tab',
]
