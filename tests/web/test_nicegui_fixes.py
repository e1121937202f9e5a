"""The NiceGUI fixes are guarded by the version they were written for, and the upstream behaviours they fix are
still there (each test here fails once NiceGUI changes that behaviour, and its fix can go). The resync and
socket guard fixes have theirs in test_resync.py and test_socket_guard.py, the socket backpressure fix in
test_socket_backpressure.py."""

import asyncio
import subprocess
import sys
import uuid
from typing import Any

import engineio
import httpx
import nicegui
import pytest
from nicegui import Client, app, core, ui
from nicegui.persistence import RedisPersistentDict
from nicegui.testing import User

from tests.simulated import sign_up
from voiceconnect.cluster.pool import connect
from voiceconnect.testing.servers import PROJECT_DIR, RedisServer
from web import nicegui_fixes
from web.nicegui_fixes import (
    TESTED_NICEGUI,
    UntestedNiceGUI,
    browser_session,
    check_version,
    page_elements,
    redis_storage,
    session_binding,
    socket_origin,
    socket_ping,
)

# the version guard


def test_the_installed_nicegui_is_the_one_the_fixes_were_written_for() -> None:
    assert nicegui.__version__ == TESTED_NICEGUI
    check_version()


@pytest.mark.parametrize('version', ['3.18.1', '3.19.0', '4.0.0', '3.17.9'])
def test_any_other_nicegui_version_is_refused(version: str) -> None:
    with pytest.raises(UntestedNiceGUI, match=rf'^NiceGUI {version} is installed, but .* {TESTED_NICEGUI}'):
        check_version(version)


def test_the_app_refuses_to_start_on_an_untested_nicegui_in_one_line() -> None:
    start = 'import nicegui, runpy; nicegui.__version__ = "3.99.0"; runpy.run_path("main.py", run_name="__main__")'
    result = subprocess.run(
        [sys.executable, '-c', start], cwd=PROJECT_DIR, capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 2
    assert 'Traceback' not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith('VoiceConnect cannot start: NiceGUI 3.99.0 is installed')
    assert 'ready' not in result.stdout and 'VoiceConnect on' not in result.stdout


def test_install_checks_the_version_before_patching_anything(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(nicegui, '__version__', '3.99.0')
    patched: list[str] = []
    monkeypatch.setattr(nicegui_fixes.resync, 'install', lambda: patched.append('resync'))
    with pytest.raises(UntestedNiceGUI):
        nicegui_fixes.install()
    assert patched == []


# socket_ping: NiceGUI derives the socket's ping from reconnect_timeout


@pytest.fixture
def without_the_ping_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    """Ask for this before `user`, which starts the app."""
    monkeypatch.setattr(socket_ping, 'ping_quickly', lambda: None)


async def test_nicegui_alone_pings_at_the_pace_of_reconnect_timeout(without_the_ping_fix: None, user: User) -> None:
    """main.py sets reconnect_timeout to the grace (20 s) plus 5 s: NiceGUI pings every 20 s, allowing 10 s more."""
    assert app.config.reconnect_timeout == 25
    assert (core.sio.eio.ping_interval, core.sio.eio.ping_timeout) == (20, 10)


async def test_with_the_fix_a_dead_network_is_noticed_within_ten_seconds(user: User) -> None:
    assert (core.sio.eio.ping_interval, core.sio.eio.ping_timeout) == (5, 5)


# browser_session: NiceGUI never gives a browser a new storage id


@pytest.fixture
def without_new_ids_at_sign_in(monkeypatch: pytest.MonkeyPatch) -> None:
    """NiceGUI alone: a sign-in is stored under the id the browser already had (browser_session's round trip,
    which moves it to a new id, is left out)."""

    async def in_place(client: Client, apply: browser_session.Apply) -> browser_session.BrowserStorage:
        browser_id = browser_session.page_browser_id(client)
        assert browser_id is not None
        storage = app.storage._users[browser_id]
        apply(storage, browser_id, browser_id)
        return browser_session.BrowserStorage(browser_id, storage)

    monkeypatch.setattr(browser_session, 'renew_for_sign_in', in_place)


async def opens_an_account(user: User, cookies: dict[str, str]) -> bool:
    """Whether a browser holding these cookies (copied, or planted by an attacker) gets past the sign-in gate."""
    async with httpx.AsyncClient(transport=user.http_client._transport, base_url='http://test') as other:
        other.cookies.update(cookies)
        page = await other.get('/', follow_redirects=False)
    return page.status_code == 200  # else a redirect to /login


async def test_nicegui_alone_keeps_the_id_at_sign_in_so_a_cookie_from_before_opens_the_account(
    without_new_ids_at_sign_in: None, user: User
) -> None:
    """Session fixation: an anonymous cookie (planted in the victim's browser, or copied from it) became the
    victim's once they signed in with it."""
    await user.open('/login')
    planted = dict(user.http_client.cookies)
    await sign_up(user, 'alice')
    assert await opens_an_account(user, planted)


async def test_with_the_fix_a_cookie_from_before_the_sign_in_opens_nothing(user: User) -> None:
    await user.open('/login')
    planted = dict(user.http_client.cookies)
    await sign_up(user, 'alice')
    assert not await opens_an_account(user, planted)
    assert await opens_an_account(user, dict(user.http_client.cookies))  # the browser's own new cookie does


async def test_nicegui_alone_lets_a_copied_cookie_into_the_storage_after_it_was_emptied(
    without_new_ids_at_sign_in: None, user: User
) -> None:
    """Why Log out renews the browser id: NiceGUI keys a browser's storage by an id in its session cookie and
    never changes that id. Emptying the storage (what a Log out without the fix does) and signing in again puts
    the new session where a cookie copied before can read it."""
    await sign_up(user, 'alice')
    copied = dict(user.http_client.cookies)
    for storage in app.storage._users.values():
        storage.clear()  # a naive Log out: the browser's accounts are gone
    await sign_up(user, 'alice2')  # the owner signs in again
    assert await opens_an_account(user, copied)  # no redirect to /login: the copied cookie opens the new sign-in


# session_binding: NiceGUI accepts a handshake for a page from a socket of any session


def _handshake_environ(client_id: str, browser_id: str) -> dict[str, Any]:
    """A socket's environ as python-socketio keeps it: the connect URL, and the session the middleware decoded."""
    return {
        'QUERY_STRING': f'client_id={client_id}&implicit_handshake=true',
        'asgi.scope': {'type': 'websocket', 'session': {'id': browser_id}},
    }


def _page_client(user: User) -> Client:
    assert user.client is not None
    return user.client


def _tab(client: Client) -> str:
    assert client.tab_id is not None
    return client.tab_id


async def test_without_the_binding_nicegui_accepts_another_sessions_handshake(user: User) -> None:
    await sign_up(user, 'alice')
    client = _page_client(user)
    forged = _handshake_environ(client.id, 'another-browser')
    assert session_binding.upstream(client, 'mallory-socket', _tab(client), forged) is True


async def test_with_the_binding_only_the_pages_own_session_may_handshake(user: User) -> None:
    await sign_up(user, 'alice')
    client = _page_client(user)
    own = client.request.session['id']
    assert client.accept_handshake('mallory-socket', _tab(client), _handshake_environ(client.id, 'another')) is False
    no_session = {'QUERY_STRING': f'client_id={client.id}', 'asgi.scope': {'type': 'websocket'}}
    assert client.accept_handshake('cookieless-socket', _tab(client), no_session) is False
    assert client.accept_handshake('own-socket', _tab(client), _handshake_environ(client.id, own)) is True


async def test_a_page_loaded_before_a_log_out_still_takes_its_browsers_socket(user: User) -> None:
    """Log out gives the browser a new id (browser_session); a tab of it loaded before reconnects with the new
    cookie and is still the browser's own."""
    await sign_up(user, 'alice')
    client = _page_client(user)
    old = client.request.session['id']
    browser_session._successor[old] = 'renewed-id'
    try:
        environ = _handshake_environ(client.id, 'renewed-id')
        assert client.accept_handshake('reconnecting-socket', _tab(client), environ) is True
    finally:
        browser_session._successor.pop(old)


# redis_storage: with Redis, NiceGUI gives every browser id (and tab) Redis connections of its own

BROWSERS = 20


async def _settled() -> None:
    await asyncio.sleep(0.3)  # listener tasks subscribe, connections are counted


async def test_nicegui_alone_holds_redis_connections_for_every_browser(
    user: User, redis_server: RedisServer, redis_url: str
) -> None:
    """Upstream's RedisPersistentDict, one per browser id as NiceGUI makes them: a client and a pub/sub
    connection each, held until the browser's storage is pruned."""
    before = redis_server.connected_clients()
    browsers = [RedisPersistentDict(url=redis_url, id=f'user-{uuid.uuid4()}', key_prefix='t:') for _ in range(BROWSERS)]
    try:
        for storage in browsers:
            await storage.initialize()
        await _settled()
        assert redis_server.connected_clients() - before >= BROWSERS
    finally:
        for storage in browsers:
            await storage.close()


async def test_with_the_fix_browsers_and_tabs_share_one_pool_and_one_subscription(
    user: User, redis_server: RedisServer, redis_url: str
) -> None:
    before = redis_server.connected_clients()
    here, there = (redis_storage.ChangeFeed(connect(redis_url, 2, 4)) for _ in range(2))  # two processes
    mine = [redis_storage.SharedRedisDict(here, f't:user-{i}', None, fresh=False) for i in range(BROWSERS)]
    tabs = [redis_storage.SharedRedisDict(here, f't:tab-{i}', 60, fresh=False) for i in range(BROWSERS)]
    theirs = redis_storage.SharedRedisDict(there, 't:user-0', None, fresh=False)
    try:
        await asyncio.gather(*(storage.initialize() for storage in [*mine, *tabs, theirs]))
        for i, storage in enumerate(mine):
            storage['accounts'] = {f'user{i}': 'token'}
        await _settled()
        assert redis_server.connected_clients() - before <= 2 * (4 + 1)  # a pool and a subscription per process
        assert theirs == {'accounts': {'user0': 'token'}}  # a change on one process is heard on the other
        assert await here.redis.ttl('t:tab-0') == -2  # nothing stored for an empty tab
        tabs[0]['x'] = 1
        await _settled()
        assert 0 < await here.redis.ttl('t:tab-0') <= 60  # tab storage expires, as upstream's
    finally:
        for storage in [*mine, *tabs, theirs]:
            await storage.close()
        await here.close()
        await there.close()


async def test_with_the_fix_a_browser_id_made_for_this_request_costs_redis_nothing(
    user: User, redis_server: RedisServer, redis_url: str
) -> None:
    before = redis_server.connected_clients()
    feed = redis_storage.ChangeFeed(connect(redis_url, 2, 4))
    fresh = [redis_storage.SharedRedisDict(feed, f't:user-{uuid.uuid4()}', None, fresh=True) for _ in range(BROWSERS)]
    try:
        await asyncio.gather(*(storage.initialize() for storage in fresh))
        await _settled()
        assert redis_server.connected_clients() == before  # not read, not subscribed: nothing opened at all
    finally:
        await feed.close()


# socket_origin: NiceGUI's socket.io server takes any Origin, with credentials


def _environ(origin: str, host: str = '127.0.0.1:8080', scheme: str = 'ws', **headers: str) -> dict[str, Any]:
    return {'HTTP_ORIGIN': origin, 'HTTP_HOST': host, 'asgi.scope': {'type': 'websocket', 'scheme': scheme}, **headers}


def test_nicegui_alone_lets_any_origin_open_the_socket() -> None:
    assert socket_origin.upstream == '*'
    server = engineio.AsyncServer(async_mode='asgi', cors_allowed_origins=socket_origin.upstream)
    assert server._cors_allowed_origins(_environ('https://evil.example')) is None  # None: every origin is allowed


def test_with_the_fix_only_the_apps_own_origin_opens_the_socket() -> None:
    same = socket_origin.same_origin
    assert same('http://127.0.0.1:8080', _environ('http://127.0.0.1:8080'))
    assert same('https://127.0.0.1:8080', _environ('https://127.0.0.1:8080', scheme='wss'))  # SSL_CERTFILE
    behind_tls_proxy = _environ('https://voice.example.org', host='voice.example.org', scheme='wss')
    assert same('https://voice.example.org', behind_tls_proxy)  # uvicorn took X-Forwarded-Proto from the proxy
    forwarded = _environ('https://voice.example.org', HTTP_X_FORWARDED_HOST='voice.example.org')
    assert same('https://voice.example.org', forwarded | {'HTTP_X_FORWARDED_PROTO': 'https'})
    for foreign in ('https://evil.example', 'http://127.0.0.1:8081', 'https://127.0.0.1:8080', 'null'):
        assert not same(foreign, _environ(foreign)), foreign
    assert not same(None, _environ(''))


async def test_the_app_installs_the_origin_check(user: User) -> None:
    assert core.sio.eio.cors_allowed_origins is socket_origin.same_origin


# page_elements: NiceGUI's simulated user finds a custom element's text only through a private hook


class BrowserRows(ui.element):
    """Like the online list: its rows are drawn by its JavaScript from data, so NiceGUI has no text of them."""

    def __init__(self) -> None:
        super().__init__()
        self._props['rows'] = [['carol', 'online']]

    def shown_text(self) -> list[str | None]:
        return ['carol']


class ShownBrowserRows(BrowserRows, page_elements.ShownText):
    pass


async def test_without_shown_text_the_simulated_user_sees_nothing_of_a_custom_element(user: User) -> None:
    await user.open('/login')
    with user.client or pytest.fail('no page'):
        BrowserRows()
    with pytest.raises(AssertionError):
        await user.should_see('carol', retries=1)


async def test_with_shown_text_the_simulated_user_sees_what_the_element_says_it_shows(user: User) -> None:
    await user.open('/login')
    with user.client or pytest.fail('no page'):
        ShownBrowserRows()
        page_elements.TextTag('h2', 'Recent calls')
    await user.should_see('carol')
    await user.should_see('Recent calls')
