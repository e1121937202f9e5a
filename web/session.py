"""Which accounts a browser and a tab are signed in as, and signing in and out.

The accounts signed in on a browser live in NiceGUI's user storage (shared by its tabs, kept across restarts of
the browser), read and written through the tab's own handle on it (`TabState.browser_storage`); which account a
tab is lives in its tab storage (survives reloads of that tab). Sessions are checked against the server on every
attach, so a signed-out token is worthless.

A sign-in gives the browser a new id (browser_session): the accounts already signed in on it move along, and the
new session is stored only under the new id, so a cookie planted or copied before is worth nothing. The storage
also remembers which names signed in on this browser (`KNOWN`): their sign-ins here pass the per-name ceiling on
failures that distributed guessing runs into (people/accounts.py), so the owner's own browser is never locked out.

A tab signed out by the grace expiry (its browser was away too long) keeps its account: the session is still
valid, so when the tab's socket comes back it quietly signs in again, in place. A tab whose session ended on the
server (a new password, the account's removal, its age) lands on the sign-in page, which says why.
"""

import contextlib

from nicegui import app, ui

from voiceconnect.connections.device import Device, TooManyTabs
from voiceconnect.connections.events import SignedOut
from voiceconnect.people.accounts import AccountError, SignedIn

from .core import backend
from .nicegui_fixes import browser_session
from .nicegui_fixes.browser_session import RENEW, RoundTripFailed, Storage, is_retired
from .tabs import LINEAGE, BrowserTab, TabState

ACCOUNTS = 'accounts'  # user storage: {name: session token} for every account signed in on this browser
LAST_USED = 'last_used'  # user storage: the account a new tab starts as
KNOWN = 'known'  # user storage: the names (case-folded) that ever signed in on this browser, the latest last
MAX_KNOWN = 20
TAB_ACCOUNT = 'account'  # app.storage.tab: the account this tab is signed in as
SIGNUP_CLOSED = 'New accounts are made by the administrator here. Ask them for one.'
SIGN_IN_UNFINISHED = 'Signing in could not finish: this page lost its connection to the server. Please try again.'
WHY_SIGNED_OUT = {
    'revoked': 'You were signed out by the server (a new password, for instance). Please sign in again.',
    'session_expired': 'Your session expired. Please sign in again.',
}


def browser_accounts(tab: TabState) -> dict[str, str]:
    accounts: dict[str, str] = tab.browser_storage.get(ACCOUNTS, {})
    return dict(accounts)


async def current_accounts(tab: TabState) -> dict[str, str]:
    """The accounts signed in on this tab's browser now (also when another tab moved the browser to a new id)."""
    await _current_storage(tab)
    return browser_accounts(tab)


async def restore(tab: TabState) -> str | None:
    """Attach the tab to the account it was signed in as (or the browser's last used one); None if none."""
    await _current_storage(tab)
    accounts = browser_accounts(tab)
    candidates: tuple[str | None, str | None] = (app.storage.tab.get(TAB_ACCOUNT), tab.browser_storage.get(LAST_USED))
    for name in candidates:
        if name and name in accounts:
            if await backend().accounts.resume(accounts[name]) == name:
                try:
                    await _attach(tab, SignedIn(name, accounts[name]))
                except AccountError as refused:  # too many tabs open: the sign-in page says so
                    tab.notice = str(refused)
                    return None
                return name
            _forget(tab, name)
    return None


async def sign_in(tab: TabState, name: str, password: str, create: bool = False) -> Device:
    """Sign in (or create the account and sign in); raises AccountError with a message for the person."""
    if create and backend().settings.signup == 'closed':
        raise AccountError(SIGNUP_CLOSED)
    accounts = backend().accounts
    address = tab.client.ip or None  # limits per address
    if create:
        signed_in = await accounts.create(name, password, address=address)
    else:
        known = name.strip().casefold() in (await _current_storage(tab)).get(KNOWN, [])
        signed_in = await accounts.sign_in(name, password, address=address, known_browser=known)
    try:
        moved = await browser_session.renew_for_sign_in(tab.client, lambda *ids: _store_sign_in(signed_in, *ids))
    except RoundTripFailed:
        await accounts.sign_out(signed_in.token)  # nobody holds it
        raise AccountError(SIGN_IN_UNFINISHED) from None
    tab.browser_storage = moved.storage
    tab.browser_id = moved.storage[LINEAGE]
    app.storage.tab[TAB_ACCOUNT] = signed_in.name
    return await _attach(tab, signed_in)


async def continue_as(tab: TabState, name: str, token: str) -> Device | None:
    """Switch this tab to another account signed in on the browser; None if that session was signed out."""
    if await backend().accounts.resume(token) != name:
        _forget(tab, name)
        return None
    storage = await _current_storage(tab)
    storage[LAST_USED] = name
    app.storage.tab[TAB_ACCOUNT] = name
    return await _attach(tab, SignedIn(name, token))


async def log_out(tab: TabState) -> None:
    """Log out the tab's account: its session ends on every tab that uses it, and the browser gets a new id.

    The session's end takes this tab to the sign-in page, in place, as it does every other tab of the session
    (`_signed_out`); the new id comes by a fetch with no reload after it, so /login loads once."""
    if tab.device is None:
        return
    await _current_storage(tab)
    _forget(tab, tab.device.user)
    await backend().log_out(tab.device)
    tab.client.run_javascript(RENEW)  # a new browser id: a copy of the old cookie opens nothing


def _store_sign_in(signed_in: SignedIn, storage: Storage, old_id: str, new_id: str) -> None:
    """What a sign-in adds to the browser's storage under its new id (the accounts already there stay)."""
    had_accounts = bool(storage.get(ACCOUNTS))
    storage[ACCOUNTS] = {**storage.get(ACCOUNTS, {}), signed_in.name: signed_in.token}
    storage[LAST_USED] = signed_in.name
    key = signed_in.name.casefold()
    storage[KNOWN] = [*(known for known in storage.get(KNOWN, []) if known != key), key][-MAX_KNOWN:]
    if LINEAGE not in storage:  # a browser signed in before there was a lineage keeps its id as one
        storage[LINEAGE] = old_id if had_accounts else new_id


async def _current_storage(tab: TabState) -> Storage:
    """The browser's storage as it is now: if another tab moved the browser to a new id since this page was loaded,
    this tab follows it there (a round trip its cookie proves), else it keeps what it has."""
    if is_retired(tab.browser_storage) and tab.client.has_socket_connection:
        with contextlib.suppress(RoundTripFailed):  # offline again: what this tab knew will do
            tab.browser_storage = (await browser_session.follow(tab.client)).storage
    return tab.browser_storage


def _forget(tab: TabState, name: str) -> None:
    accounts = browser_accounts(tab)
    if not is_retired(tab.browser_storage):
        accounts.pop(name, None)
        tab.browser_storage[ACCOUNTS] = accounts
        if tab.browser_storage.get(LAST_USED) == name:
            tab.browser_storage[LAST_USED] = next(iter(accounts), None)
    if tab.client.has_socket_connection and app.storage.tab.get(TAB_ACCOUNT) == name:  # (tab storage needs one)
        app.storage.tab.pop(TAB_ACCOUNT, None)


async def _attach(tab: TabState, signed_in: SignedIn) -> Device:
    if tab.device is not None and tab.device.user == signed_in.name:
        return tab.device
    if tab.device is not None:
        previous = tab.device
        await previous.detach()
        tab.set_device(None)
    switchboard = backend().switchboard
    service = await switchboard.service_for(tab.browser_id, signed_in.name, signed_in.token)
    browser_tab = BrowserTab(tab.client, backend().settings.ice_policy, signed_in.name)
    try:
        device = await switchboard.attach(service, tab.client.id, browser_tab, tab.client.tab_id, tab.client.ip)
    except TooManyTabs as refused:
        raise AccountError(str(refused)) from None
    device.on(SignedOut, lambda event: _signed_out(tab, event))
    if not tab.client.has_socket_connection:
        await device.set_connected(False)
    tab.set_device(device)
    tab.client.run_javascript('vc.signedIn()')
    return device


def _signed_out(tab: TabState, event: SignedOut) -> None:
    """The account was logged out (maybe in another tab), its session ended on the server, or the grace ran out
    while this tab was away."""
    device = tab.device
    tab.set_device(None)
    if event.reason == 'expired':  # the tab is away now: it signs in again when it is back
        if tab.client.has_socket_connection:  # back already, in this very moment
            tab.client.safe_invoke(lambda: _back_online(tab))
        else:
            tab.on_back_online = lambda: _back_online(tab)
        return
    if (why := WHY_SIGNED_OUT.get(event.reason)) is not None:
        tab.notice = why
        if device is not None:
            with tab.client:
                _forget(tab, device.user)  # its token is worthless now: no `Continue as` for it
    with tab.client:
        ui.navigate.to('/login')


async def _back_online(tab: TabState) -> None:
    """After a grace expiry: resume the tab's still valid session in place, or ask to sign in again."""
    grace_s = backend().settings.reconnect_grace_s
    name = await restore(tab)
    with tab.client:
        if name is None:
            tab.notice = f'You were signed out after {grace_s:.0f} s offline. Please sign in again.'
            ui.navigate.to('/login')
            return
        ui.notify(f'You were offline for more than {grace_s:.0f} s and are signed in again.', position='top')
        await tab.client.sub_pages_router.refresh()  # the page shows the resumed connection
