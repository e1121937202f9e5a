"""The switchboard: connects sessions, tabs, presence and calls.

It keeps the connection services of this process (one per account signed in on a browser) and the devices
attached to them, and says what a sign-in, a tab coming or going, a socket dropping, a Log out or a grace
expiry mean for presence (the hub) and for calls (the call manager). It is also where the call manager's news
goes out: through the hub, to the tabs of both parties.
"""

import contextlib
import hashlib
import logging
from collections.abc import Awaitable, Callable
from typing import Literal

from ..calls.bridging import BridgeRouter
from ..calls.machine import Call, CallError, EndReason, Refusal, ServiceUnavailable
from ..calls.manager import CallManager, GroupMedia
from ..calls.store import CallStore
from ..clock import Clock
from ..people.directory import People
from ..ratelimit import Limits, address_key
from ..settings import Timeouts
from .device import SIGNED_OUT_HERE, Contact, Device, Guards, History, MessageTaker, Tab, TooManyTabs
from .events import Presence, PresenceChange, ServiceInterrupted, SignedOut, SignOutReason
from .hub import Hub
from .service import ConnectionService

log = logging.getLogger('voiceconnect')
Ending = SignOutReason
# why a session may no longer act (None: it may): what the backend checks against the store before each call action
SessionCheck = Callable[[str], Awaitable[Literal['revoked', 'session_expired'] | None]]
WHY_DISCONNECTED: dict[str, str] = {
    'logout': 'logged out',
    'revoked': 'session revoked',
    'session_expired': 'session expired',
}


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


StoreFactory = Callable[[Callable[[str], Awaitable[None]]], CallStore]  # given what to call when a deadline passes


class Switchboard:
    """`store` makes the call store (given the function a passed deadline calls); by default calls live in this
    process's memory. The switchboard is the hub's listener: what the hub hears from other processes lands here."""

    def __init__(
        self,
        clock: Clock,
        hub: Hub,
        history: History,
        timeouts: Timeouts | None = None,
        limits: Limits | None = None,
        store: StoreFactory | None = None,
        people: People | None = None,
        bridge: BridgeRouter | None = None,
        group_media: GroupMedia = 'auto',
    ) -> None:
        self.timeouts = timeouts or Timeouts()
        self.clock = clock
        self.hub = hub
        self.history = history
        self.people = people  # without it (the core's unit tests) anyone may exist and nobody chose do not disturb
        self.guards = Guards(limits or Limits(), clock)
        self.calls = CallManager(
            self,
            clock,
            history,
            ring_timeout_s=self.timeouts.ring_timeout_s,
            media_timeout_s=self.timeouts.media_timeout_s,
            store=store(self._deadline_passed) if store is not None else None,
            group_max=self.guards.limits.group_max,
            mesh_max=self.guards.limits.mesh_max,
            rooms=bridge,
            group_media=group_media,
        )
        # the audio bridge (JANUS_URL): this process's Janus session, for the tabs whose sockets are here
        self.bridge = bridge
        if bridge is not None:
            bridge.calls = self.calls
        hub.listen(self)
        self.services: dict[tuple[str, str], ConnectionService] = {}  # (browser, user) → service
        self.devices: dict[str, Device] = {}
        self._service_of: dict[str, ConnectionService] = {}  # device → the service it is attached to
        self._per_address: dict[str, int] = {}  # client address (its limit key) → devices attached from it here
        self.contacts: dict[str, Contact] = {}  # built-in contacts by name (the Sound test), listed for everyone
        self.voicemail: MessageTaker | None = None  # the recorder of messages (VOICEMAIL), set by the web layer
        # set by the backend (accounts in the store); without it (the core's unit tests) every session stays valid
        self.session_check: SessionCheck | None = None

    # sessions

    async def service_for(self, browser: str, user: str, token: str) -> ConnectionService:
        """The user's connection service on this browser, created at sign-in or when a tab first attaches."""
        service = self.services.get((browser, user))
        if service is not None:
            service.token = token  # signed in again on this browser with a fresh session: keep the tabs
            return service
        service = ConnectionService(user, browser, token)
        self.services[(browser, user)] = service
        log.info('👤 User connected: %s', user, extra={'user': user})
        if await self.hub.open_session(service.id, user):
            log.info('📞 User joined: %s', user, extra={'user': user})
            if self.people is not None and await self.people.do_not_disturb(user):
                await self.hub.set_do_not_disturb(user, True)  # they are seen as `do not disturb` from the start
            else:
                self.hub.publish_presence(PresenceChange(user, Presence.ONLINE))
        return service

    async def end(self, service: ConnectionService, reason: Ending) -> None:
        """Log out, grace expiry, or the session ended in the store: the service ends, its tabs are told, its user
        may go offline. Only after a grace expiry are its calls left to the grace of a connection lost."""
        if service.ended:
            return
        self.services.pop((service.browser, service.user), None)
        devices = [self.devices[device] for device in service.close() if device in self.devices]
        for device in devices:  # their calls end first, so these tabs too learn how (e.g. on their return)
            await self.calls.device_gone(device.user, device.id, deliberate=reason != 'expired')
        for device in devices:
            await self._forget(device)
            device.deliver(SignedOut(reason))
        if await self.hub.close_session(service.id, service.user):
            await self.calls.user_gone(service.user)
            grace = f'no tab connected for {self.timeouts.reconnect_grace_s:.0f}s'
            why = WHY_DISCONNECTED.get(reason, grace)
            log.info('👋 User disconnected: %s (%s)', service.user, why, extra={'user': service.user})
            self.hub.publish_presence(PresenceChange(service.user, Presence.OFFLINE))

    async def end_session(self, token: str, reason: Ending) -> None:
        """Every connection service of this process signed in with the session ends, whichever browser id it was
        opened under (a browser gets a new id at each sign-in and Log out, and its older tabs keep the one they
        had)."""
        for service in [s for s in self.services.values() if s.token == token]:
            await self.end(service, reason)

    async def log_out_session(self, token: str) -> None:
        """The session was logged out: it ends here and in every other process."""
        await self.end_session(token, 'logout')
        await self.hub.logged_out(token)

    async def check_session(self, device: Device) -> None:
        """Before a call action: the device's session must still be valid in the store (the admin command may have
        ended it a moment ago, from another process); if not, it ends here now and the action is refused."""
        if self.session_check is None or not (token := self.token_of(device)):
            return  # no store to ask, or not a sign-in (the Sound test's own tab)
        if (why := await self.session_check(token)) is not None:
            await self.end_session(token, why)
            raise CallError(SIGNED_OUT_HERE, Refusal.SIGNED_OUT)

    # tabs

    async def attach(
        self, service: ConnectionService, device_id: str, tab: Tab, tab_key: str | None = None, address: str = ''
    ) -> Device:
        """A tab's document attaches. `tab_key` names the browser tab across reloads (NiceGUI's tab id, kept in
        the tab's sessionStorage): if the previous document of the same tab is still attached (its grace has
        not run out), this one takes over its calls. `address`: the client's, for TABS_PER_ADDRESS. Raises
        TooManyTabs past TABS_PER_USER or TABS_PER_ADDRESS: the tabs already open are never the ones to go."""
        device = Device(self, device_id, service.user, tab, tab_key, service.browser, address_key(address))
        key = device.reload_key
        previous = await self.hub.previous_document(service.user, key, device_id) if key else None
        await self._check_room(service, device, previous)
        self.devices[device_id] = device
        self._service_of[device_id] = service
        service.add_tab(device_id)
        if device.address:
            self._per_address[device.address] = self._per_address.get(device.address, 0) + 1
        await self.hub.attach(device)
        await self._mark_connected(service, device, True)
        if previous is not None:  # served here, by another process, or by one that died
            if previous in self.devices:
                self._service_of[previous].remove_tab(previous)
                await self._forget(self.devices[previous])
            else:
                await self.hub.detach(service.user, previous)
            await self.calls.move_device(service.user, previous, device_id)
        return device

    async def _check_room(self, service: ConnectionService, device: Device, replacing: str | None) -> None:
        """Refuse a device past the user's or the address's bound (the document it replaces makes room)."""
        limits = self.guards.limits
        others = set(await self.hub.devices_of(service.user)) - {replacing}
        from_address = self._per_address.get(device.address, 0) if device.address else 0
        if (replaced := self.devices.get(replacing or '')) is not None and replaced.address == device.address:
            from_address -= 1
        if len(others) < limits.tabs_per_user and from_address < limits.tabs_per_address:
            return
        if not service.tabs:  # a service made for this tab alone: it ends after the grace, as if its tab went
            service.start_grace(self.clock, self.timeouts.reconnect_grace_s, lambda: self.end(service, 'expired'))
        if len(others) >= limits.tabs_per_user:
            why = f'{len(others)} tabs and programs open, the most one person may have at once'
            self._log_refusal(service.user, why)
            raise TooManyTabs(f'You have {why}. Close one, then try again.')
        self._log_refusal(service.user, f'{from_address} tabs and programs open from their address')
        raise TooManyTabs('Too many tabs and programs are open from your network address. Close one, then try again.')

    def _log_refusal(self, user: str, why: str) -> None:
        if self.guards.refusals_logged.hit(user) is None:  # a stream of refused tabs: a line a minute
            log.warning('⚠️ Refused a tab of %s: %s', user, why, extra={'user': user})

    def holds(self, device: Device) -> bool:
        """Whether the device is still attached to a live service (not signed out, not closed)."""
        service = self._service_of.get(device.id)
        return service is not None and not service.ended and self.devices.get(device.id) is device

    async def detach(self, device: Device) -> None:
        if (service := self._service_of.get(device.id)) is None or self.devices.get(device.id) is not device:
            return
        await self._mark_connected(service, device, False)
        service.remove_tab(device.id)
        await self._forget(device)
        await self.calls.device_gone(device.user, device.id)

    async def set_connected(self, device: Device, connected: bool) -> None:
        if (service := self._service_of.get(device.id)) is not None and self.devices.get(device.id) is device:
            await self._mark_connected(service, device, connected)

    def token_of(self, device: Device) -> str | None:
        """The session the device is signed in with (for Log out; never sent to a browser)."""
        service = self._service_of.get(device.id)
        return service.token if service is not None else None

    async def _mark_connected(self, service: ConnectionService, device: Device, connected: bool) -> None:
        # the grace timer below must start (or stop) even while the shared state does not answer
        with contextlib.suppress(ServiceUnavailable):
            await self.calls.set_away(device.user, device.id, away=not connected)
        service.mark_connected(device.id, connected)
        await self.hub.set_connected(device.id, connected)
        if connected:
            service.stop_grace()
        elif not service.connected:
            grace_s = self.timeouts.reconnect_grace_s
            service.start_grace(self.clock, grace_s, lambda: self.end(service, 'expired'))

    async def _forget(self, device: Device) -> None:
        if self.devices.pop(device.id, None) is not None and device.address:
            self._per_address[device.address] -= 1
            if not self._per_address[device.address]:
                del self._per_address[device.address]
        self._service_of.pop(device.id, None)
        await self.hub.detach(device.user, device.id)

    # where the call manager's news goes

    async def devices_of(self, user: str) -> list[str]:
        return await self.hub.devices_of(user)

    async def is_user(self, name: str) -> bool:
        return self.people is None or await self.people.exists(name)

    def not_taking_calls(self, user: str) -> bool:
        return self.hub.presence_of(user) == Presence.DO_NOT_DISTURB

    def call_changed(self, call: Call) -> None:
        self.hub.call_changed(call)
        self.bridge_news(call)

    def bridge_news(self, call: Call) -> None:
        """A call's record changed (here, or in another process): the bridge lets go of links that went."""
        if self.bridge is not None:
            self.bridge.call_changed(call)

    async def _deadline_passed(self, call_id: str) -> None:
        await self.calls.deadline_passed(call_id)

    # what the hub hears from other processes (HubListener)

    async def session_logged_out(self, token_digest: str) -> None:
        for service in [s for s in self.services.values() if digest(s.token) == token_digest]:
            await self.end(service, 'logout')

    async def user_lost(self, user: str) -> None:
        await self.calls.user_gone(user)
        log.info(
            '👋 User disconnected: %s (their server stopped and they did not come back)', user, extra={'user': user}
        )

    async def device_lost(self, user: str, device: str) -> None:
        await self.calls.set_away(user, device, away=True)

    async def device_gone(self, user: str, device: str) -> None:
        await self.calls.device_gone(user, device)

    def shared_state_lost(self) -> None:
        self._tell_every_tab(ServiceInterrupted(True))

    def shared_state_back(self) -> None:
        self._tell_every_tab(ServiceInterrupted(False))

    def _tell_every_tab(self, event: ServiceInterrupted) -> None:
        for device in list(self.devices.values()):
            device.deliver(event)

    async def shutdown(self) -> None:
        """At shutdown, when the calls live only in this process: they end as `server_restart`."""
        await self.calls.end_all(EndReason.SERVER_RESTART)
