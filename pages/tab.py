"""Per-tab state and this tab's link to its user's connection service.

A NiceGUI `Client` is one browser document; with `ui.sub_pages` it lives across in-app navigation, so it is
the natural "tab". Which account a tab is signed in as lives in `app.storage.tab` (survives reloads of that
tab); the accounts signed in on the browser live in `app.storage.user` (shared by its tabs, kept across
restarts of the browser). Sessions are checked against the server on every attach, so a signed-out token is
worthless.
"""

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from nicegui import Client, app, ui

from voiceconnect.accounts import SignedIn
from voiceconnect.backend import Backend
from voiceconnect.connection import Device
from voiceconnect.events import CallChanged, CallView, Event, SignedOut

from .browser_session import RENEW_AND_SIGN_IN, hand_over, is_retired

E = TypeVar('E', bound=Event)

ACCOUNTS = 'accounts'  # app.storage.user: {name: session token} for every account signed in on this browser
LAST_USED = 'last_used'  # app.storage.user: the account a new tab starts as
TAB_ACCOUNT = 'account'  # app.storage.tab: the account this tab is signed in as

_backend: Backend | None = None
_tabs: dict[str, 'TabState'] = {}


def set_backend(backend: Backend) -> None:
    global _backend
    _backend = backend


def backend() -> Backend:
    assert _backend is not None, 'main.py sets the backend before the app starts'
    return _backend


class BrowserTab:
    """The core's `Tab`: forwards call views and relayed signaling to the browser module of one document."""

    def __init__(self, client: Client) -> None:
        self.client = client

    def deliver(self, event: Event) -> None:
        if isinstance(event, CallChanged):
            view = event.call
            payload = {
                'id': view.id,
                'role': view.role,
                'state': str(view.state),
                'here': view.here,
                'leg': view.leg,
                'me_muted': view.me_muted,
                'ice_servers': backend().settings.ice_servers,
            }
            self._run(f'vc.sync({json.dumps(payload)})')
        elif isinstance(event, SignedOut):
            self._run('vc.signedOut()')

    def relay(self, message: dict[str, Any]) -> None:
        self._run(f'vc.signal({json.dumps(message)})')

    def _run(self, code: str) -> None:
        if not self.client.is_deleted:
            self.client.run_javascript(code)


@dataclass(eq=False)
class TabState:
    client: Client
    device: Device | None = None
    ready: asyncio.Event = field(default_factory=asyncio.Event)
    views: dict[str, CallView] = field(default_factory=dict)  # the calls this tab saw, for their end screens
    on_device: list[Callable[[Device | None], None]] = field(default_factory=list)

    def remember(self, view: CallView) -> None:
        self.views[view.id] = view
        while len(self.views) > 20:
            del self.views[next(iter(self.views))]

    def view_of(self, call_id: str) -> CallView | None:
        live = self.device.call if self.device else None
        return live if live and live.id == call_id else self.views.get(call_id)


def current_tab() -> TabState:
    return _tabs[ui.context.client.id]


def open_tab(client: Client) -> TabState:
    tab = TabState(client)
    _tabs[client.id] = tab
    client.on_disconnect(lambda: tab.device and tab.device.service.set_connected(client.id, False))
    client.on_connect(lambda: tab.device and tab.device.service.set_connected(client.id, True))
    client.on_delete(lambda: _close_tab(tab))
    return tab


def _close_tab(tab: TabState) -> None:
    _tabs.pop(tab.client.id, None)
    detach(tab)


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


# accounts of this browser and tab


def browser_accounts() -> dict[str, str]:
    return dict(app.storage.user.get(ACCOUNTS, {}))


async def restore(tab: TabState) -> str | None:
    """Attach the tab to the account it was signed in as (or the browser's last used one); None if none."""
    accounts = browser_accounts()
    for name in (app.storage.tab.get(TAB_ACCOUNT), app.storage.user.get(LAST_USED)):
        if name and name in accounts:
            if await backend().accounts.resume(accounts[name]) == name:
                attach(tab, SignedIn(name, accounts[name]))
                return name
            forget(name)
    return None


def remember(signed_in: SignedIn) -> None:
    app.storage.tab[TAB_ACCOUNT] = signed_in.name
    if is_retired():  # this document predates a Log out in this browser: hand the session to its new id
        handover = {ACCOUNTS: {signed_in.name: signed_in.token}, LAST_USED: signed_in.name}
        ui.run_javascript(hand_over(handover))
        return
    accounts = browser_accounts()
    accounts[signed_in.name] = signed_in.token
    app.storage.user[ACCOUNTS] = accounts
    app.storage.user[LAST_USED] = signed_in.name


def forget(name: str) -> None:
    accounts = browser_accounts()
    accounts.pop(name, None)
    app.storage.user[ACCOUNTS] = accounts
    if app.storage.user.get(LAST_USED) == name:
        app.storage.user[LAST_USED] = next(iter(accounts), None)
    if app.storage.tab.get(TAB_ACCOUNT) == name:
        app.storage.tab.pop(TAB_ACCOUNT, None)


def attach(tab: TabState, signed_in: SignedIn) -> Device:
    if tab.device is not None and tab.device.user == signed_in.name:
        return tab.device
    detach(tab)
    browser = app.storage.browser['id']
    service = backend().hub.service_for(browser, signed_in.name, signed_in.token)
    tab.device = service.attach(tab.client.id, BrowserTab(tab.client), tab_key=tab.client.tab_id)
    tab.device.on(SignedOut, lambda _: _signed_out(tab))
    if not tab.client.has_socket_connection:
        service.set_connected(tab.client.id, False)
    for handler in tab.on_device:
        handler(tab.device)
    return tab.device


def detach(tab: TabState) -> None:
    if tab.device is not None:
        device, tab.device = tab.device, None
        device.service.detach(device.id)
        for handler in tab.on_device:
            handler(None)


def _signed_out(tab: TabState) -> None:
    """The account was logged out (maybe in another tab) or expired: this tab goes to the sign-in page."""
    tab.device = None
    for handler in tab.on_device:
        handler(None)
    with tab.client:
        ui.navigate.to('/login')


async def sign_in(tab: TabState, signed_in: SignedIn) -> Device:
    remember(signed_in)
    return attach(tab, signed_in)


async def log_out(tab: TabState) -> None:
    if tab.device is None:
        return
    service = tab.device.service
    await backend().accounts.sign_out(service.token)
    forget(service.user)
    backend().hub.log_out(service.token)
    tab.client.run_javascript(RENEW_AND_SIGN_IN)  # a new browser id: a copy of the old cookie opens nothing
