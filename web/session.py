"""Which accounts a browser and a tab are signed in as, and signing in and out.

The accounts signed in on a browser live in NiceGUI's user storage (shared by its tabs, kept across restarts of
the browser), read and written through the tab's own handle on it (`TabState.browser_storage`); which account a
tab is lives in its tab storage (survives reloads of that tab). Sessions are checked against the server on every
attach, so a signed-out token is worthless.

A tab signed out by the grace expiry (its browser was away too long) keeps its account: the session is still
valid, so when the tab's socket comes back it quietly signs in again, in place.
"""

from nicegui import app, ui

from voiceconnect.accounts import AccountError, SignedIn
from voiceconnect.device import Device, TooManyTabs
from voiceconnect.events import SignedOut

from .core import backend
from .nicegui_fixes.browser_session import RENEW_AND_SIGN_IN, hand_over, is_retired
from .tabs import BrowserTab, TabState

ACCOUNTS = 'accounts'  # user storage: {name: session token} for every account signed in on this browser
LAST_USED = 'last_used'  # user storage: the account a new tab starts as
TAB_ACCOUNT = 'account'  # app.storage.tab: the account this tab is signed in as
SIGNUP_CLOSED = 'New accounts are made by the administrator here. Ask them for one.'


def browser_accounts(tab: TabState) -> dict[str, str]:
    accounts: dict[str, str] = tab.browser_storage.get(ACCOUNTS, {})
    return dict(accounts)


async def restore(tab: TabState) -> str | None:
    """Attach the tab to the account it was signed in as (or the browser's last used one); None if none."""
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
    attempt = accounts.create if create else accounts.sign_in
    signed_in = await attempt(name, password, address=tab.client.ip or None)  # limits per address
    return await _use(tab, signed_in)


async def continue_as(tab: TabState, name: str, token: str) -> Device | None:
    """Switch this tab to another account signed in on the browser; None if that session was signed out."""
    if await backend().accounts.resume(token) != name:
        return None
    return await _use(tab, SignedIn(name, token))


async def log_out(tab: TabState) -> None:
    """Log out the tab's account: its session ends on every tab that uses it, and the browser gets a new id."""
    if tab.device is None:
        return
    _forget(tab, tab.device.user)
    await backend().log_out(tab.device)
    tab.client.run_javascript(RENEW_AND_SIGN_IN)  # a new browser id: a copy of the old cookie opens nothing


async def _use(tab: TabState, signed_in: SignedIn) -> Device:
    _remember(tab, signed_in)
    return await _attach(tab, signed_in)


def _remember(tab: TabState, signed_in: SignedIn) -> None:
    app.storage.tab[TAB_ACCOUNT] = signed_in.name
    if is_retired(tab.browser_storage):  # this document predates a Log out in this browser: hand the session over
        handover = {ACCOUNTS: {signed_in.name: signed_in.token}, LAST_USED: signed_in.name}
        tab.client.run_javascript(hand_over(handover))
        return
    accounts = browser_accounts(tab)
    accounts[signed_in.name] = signed_in.token
    tab.browser_storage[ACCOUNTS] = accounts
    tab.browser_storage[LAST_USED] = signed_in.name


def _forget(tab: TabState, name: str) -> None:
    accounts = browser_accounts(tab)
    accounts.pop(name, None)
    tab.browser_storage[ACCOUNTS] = accounts
    if tab.browser_storage.get(LAST_USED) == name:
        tab.browser_storage[LAST_USED] = next(iter(accounts), None)
    if app.storage.tab.get(TAB_ACCOUNT) == name:
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
    """The account was logged out (maybe in another tab), or the grace ran out while this tab was away."""
    tab.set_device(None)
    if event.reason == 'expired':  # the tab is away now: it signs in again when it is back
        if tab.client.has_socket_connection:  # back already, in this very moment
            tab.client.safe_invoke(lambda: _back_online(tab))
        else:
            tab.on_back_online = lambda: _back_online(tab)
        return
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
