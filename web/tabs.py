"""Tabs: the per-document state of a browser tab and its link to the core.

A NiceGUI `Client` is one browser document; with `ui.sub_pages` it lives across in-app navigation, so it is the
natural "tab". `TabState` keeps what the pages of one document share (its device once signed in, the calls it
saw), `BrowserTab` is the core's `Tab` over the client, and `subscribe` ties a page's event handlers to the
page's lifetime.
"""

import asyncio
import json
import time
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from nicegui import Client, app, ui

from voiceconnect import wire
from voiceconnect.calls.views import CallView
from voiceconnect.connections.device import Device
from voiceconnect.connections.events import CallChanged, Event, ServiceInterrupted, SignedOut
from voiceconnect.turn import IcePolicy

from .core import backend
from .unconnected_pages import UnconnectedPages

E = TypeVar('E', bound=Event)

_tabs: dict[str, 'TabState'] = {}  # client id → its tab state
# user storage: the id the core knows this browser by (connection services, reload keys). The browser's own id in
# its cookie changes at every sign-in and Log out; this one moves along with the browser's storage.
LINEAGE = 'lineage'
_unconnected = UnconnectedPages()  # documents whose socket has not come yet


class BrowserTab:
    """The core's `Tab`: forwards call views and relayed signaling to the browser module of one document.

    A view of a call this document carries (it placed it, rings with its own leg, or was answered on) carries the
    ICE configuration as of now, with TURN credentials of the tab's user that are fresh for TURN_TTL_S: the
    browser module builds its peer connections from the first such view. Other views (an ended call, a call to
    someone offline or busy, a call carried by another tab) carry none, so credentials go out only to a tab that
    is about to use them. While this document carries a call, new ones are pushed before the old run out
    (`vc.renewIce`: the browser module re-configures its peer connections and restarts ICE with them)."""

    def __init__(self, client: Client, ice: IcePolicy, user: str) -> None:
        self.client = client
        self.ice = ice
        self.user = user
        self._calls_here: set[str] = set()
        self._renewal: asyncio.TimerHandle | None = None

    def deliver(self, event: Event) -> None:
        if isinstance(event, CallChanged):
            view = event.call
            carried = view.connects_here  # TURN credentials only for a call this tab connects
            payload = wire.call_payload(view, self.ice.for_user(self.user, time.time()) if carried else None)
            self._follow(view)
            self._run(f'vc.sync({json.dumps(payload)})')
        elif isinstance(event, SignedOut):
            self._run('vc.signedOut()')
        elif isinstance(event, ServiceInterrupted):
            self._run(f'vc.serviceInterrupted({json.dumps(event.interrupted)})')

    def relay(self, message: dict[str, Any]) -> None:
        self._run(f'vc.signal({json.dumps(message)})')

    def _follow(self, view: CallView) -> None:
        """Renew the TURN credentials while this document carries a live call."""
        if view.connects_here:
            self._calls_here.add(view.id)
        else:
            self._calls_here.discard(view.id)
        if not self.ice.renews:
            return
        if self._calls_here and self._renewal is None:
            self._renewal = asyncio.get_running_loop().call_later(self.ice.renew_after_s(), self._renew)
        elif not self._calls_here and self._renewal is not None:
            self._renewal.cancel()
            self._renewal = None

    def _renew(self) -> None:
        self._renewal = None
        if not self._calls_here or self.client.is_deleted:
            return
        self._run(f'vc.renewIce({json.dumps(self.ice.for_user(self.user, time.time()))})')
        self._renewal = asyncio.get_running_loop().call_later(self.ice.renew_after_s(), self._renew)

    def _run(self, code: str) -> None:
        if not self.client.is_deleted:
            self.client.run_javascript(code)


@dataclass(eq=False)
class TabState:
    """What the pages of one document share. `browser_storage` is the browser's user storage as of the page build
    (or this tab's sign-in, which moves it to the browser's new id), `browser_id` the id the core knows the browser
    by (its LINEAGE): NiceGUI finds `app.storage.user` through the request being served, and an event from a timer
    (a grace expiry) has none, while one caused by another tab (a Log out there) has that tab's; so the tab keeps
    its own and every read and write of the browser's accounts goes through it."""

    client: Client
    browser_storage: MutableMapping[str, Any]
    browser_id: str
    device: Device | None = None
    ready: asyncio.Event = field(default_factory=asyncio.Event)  # set once the account (or none) is known
    views: dict[str, CallView] = field(default_factory=dict)  # the calls this tab saw, for their end screens
    on_device: list[Callable[[Device | None], None]] = field(default_factory=list)
    on_back_online: Callable[[], Awaitable[None]] | None = None  # signed out while away: what to do on return
    notice: str | None = None  # what the sign-in page says first, e.g. why this tab was signed out

    def remember(self, view: CallView) -> None:
        self.views[view.id] = view
        while len(self.views) > 20:
            del self.views[next(iter(self.views))]

    def view_of(self, call_id: str) -> CallView | None:
        live = self.device.call if self.device else None
        return live if live and live.id == call_id else self.views.get(call_id)

    def set_device(self, device: Device | None) -> None:
        self.device = device
        for handler in self.on_device:
            handler(device)


def open_tab(client: Client) -> TabState:
    """The tab state of a new document (call it while the page is built); its socket's comings and goings reach
    its device."""
    storage = app.storage.user
    tab = TabState(client, storage, storage.get(LINEAGE) or app.storage.browser['id'])
    _tabs[client.id] = tab
    client.on_disconnect(lambda: _socket_changed(tab, connected=False))
    client.on_connect(lambda: _unconnected.settled(client))
    client.on_connect(lambda: _socket_changed(tab, connected=True))
    client.on_delete(lambda: _close(tab))
    _unconnected.arrived(client, backend().settings.limits)
    return tab


async def socket_came(tab: TabState) -> bool:
    """Wait for the document's socket, PAGE_CONNECT_TIMEOUT_S at most. False if it never came: the page was
    loaded by no browser (curl, a crawler) or let go for newer ones (web/unconnected_pages.py), and is gone."""
    client = tab.client
    try:
        await client.connected(timeout=backend().settings.limits.page_connect_timeout_s)
    except TimeoutError:  # NiceGUI's ClientConnectionTimeout
        if not client.is_deleted:
            client.delete()
        return False
    return not client.is_deleted  # deleted meanwhile: that also ends the wait


def unconnected_pages() -> int:
    """How many documents are waiting for their socket now."""
    return len(_unconnected)


def current_tab() -> TabState:
    return _tabs[ui.context.client.id]


def tab_of(client_id: str) -> TabState | None:
    return _tabs.get(client_id)


async def current_device() -> Device | None:
    """This tab's device once the socket is up and the account is known; None while signed out."""
    tab = current_tab()
    await tab.ready.wait()
    return tab.device


def subscribe(device: Device, event_type: type[E], handler: Callable[[E], None]) -> None:
    """Subscribe for as long as the calling sub page is shown. A hidden marker element is made in the page: it is
    deleted when the page is left (the sub pages element itself lives on), and the subscription ends with it."""
    owner = ui.element().style('display: none')

    def guarded(event: E) -> None:
        if owner.is_deleted:
            unsubscribe()
        else:
            handler(event)

    unsubscribe = device.on(event_type, guarded)


async def _socket_changed(tab: TabState, connected: bool) -> None:
    if tab.device is not None:
        await tab.device.set_connected(connected)
    elif connected and tab.on_back_online is not None:
        back_online, tab.on_back_online = tab.on_back_online, None
        await back_online()


async def _close(tab: TabState) -> None:
    _tabs.pop(tab.client.id, None)
    _unconnected.settled(tab.client)
    if tab.device is not None:
        device = tab.device
        await device.detach()
        tab.set_device(None)
