"""Issue 18, items 8, 9 and 10, against a real app process: sessions done right, admin actions reach live sockets, no
lockout abuse. Each test is bounded in count and time; each failed on the code before the fix (see the docstrings).

Real Chromium where a browser does something (signing in over the page's socket), httpx and raw python-socketio
clients where a script would: a planted cookie, a program socket holding a token, sign-ins from other addresses.
"""

import json
import secrets
import stat
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Playwright, expect

from voiceconnect.testing.browser import Person, launch_person, sign_in, sign_up
from voiceconnect.testing.servers import PROJECT_DIR, AppServer
from voiceconnect.testing.waiting import wait_until

from .sessions_helpers import ProgramSocket, open_session, token_of


@pytest.fixture
def browser(playwright_sync: Playwright, tmp_path: Path) -> Iterator[Person]:
    """One Chromium for a person who signs in by hand (name and password chosen here)."""
    person = launch_person(playwright_sync, f'vic_{secrets.token_hex(2)}', 440, tmp_path, 'pw-' + secrets.token_hex(6))
    yield person
    person.close()


def get(server: AppServer, path: str, cookies: dict[str, str]) -> httpx.Response:
    with httpx.Client(base_url=server.url, cookies=cookies, trust_env=False, timeout=15) as http:
        return http.get(path, follow_redirects=False)


# item 8: sessions


def test_a_cookie_planted_before_the_sign_in_opens_nothing_after_it(vc_server: AppServer, browser: Person) -> None:
    """Session fixation: the attacker gets an anonymous cookie from the server and plants it in the victim's browser
    (or copies it from a browser nobody was signed in on). Before the fix it became the victim's at sign-in: GET /
    answered 200 with their dashboard."""
    with httpx.Client(trust_env=False) as attacker:
        planted = dict(attacker.get(vc_server.url + '/login').cookies)
    assert list(planted) == ['session']
    browser.context.add_cookies([{'name': 'session', 'value': planted['session'], 'url': vc_server.url}])
    sign_up(browser.page, vc_server.url, browser.name, browser.password)

    after = get(vc_server, '/', planted)
    assert after.status_code == 307 and after.headers['location'] == '/login'
    own = {c['name']: c['value'] for c in browser.context.cookies()}
    assert own['session'] != planted['session']  # the browser got a new id at the sign-in
    assert get(vc_server, '/', own).status_code == 200  # the control: the browser's own cookie is signed in
    login = get(vc_server, '/login', planted)
    assert login.status_code == 200 and browser.name not in login.text  # no `Continue as` for the victim either
    browser.page.reload()  # and the victim's browser is still signed in
    expect(browser.page.get_by_text(f'Signed in as {browser.name}')).to_be_visible()


def test_other_accounts_of_the_browser_survive_a_sign_in_and_its_older_tab_still_connects(
    vc_server: AppServer, browser: Person
) -> None:
    """The new id at sign-in keeps what the browser had: an account signed in in another tab stays, and a tab
    loaded before the sign-in keeps its socket (session_binding accepts the browser's new cookie for it)."""
    sign_up(browser.page, vc_server.url, browser.name, browser.password)
    older = browser.context.new_page()
    older.goto(vc_server.url + '/')
    expect(older.get_by_text(f'Signed in as {browser.name}')).to_be_visible()
    second = 'second_' + secrets.token_hex(2)
    browser.page.get_by_role('button', name='Switch account').click()
    browser.page.get_by_label('Username').fill(second)
    browser.page.get_by_label('Password').fill('pw-' + secrets.token_hex(6))
    browser.page.get_by_role('button', name='Create account').click()
    expect(browser.page.get_by_text(f'Signed in as {second}')).to_be_visible()
    older.evaluate('() => window.socket.io.engine.close()')  # its socket drops and comes back, with the new cookie
    bot, bot_password = vc_server.add_user()
    program = ProgramSocket(vc_server, token_of(vc_server, bot, bot_password))
    try:  # news reaches the older tab: its socket was taken back
        expect(older.get_by_role('button', name=f'Call {bot}')).to_be_visible(timeout=15_000)
    finally:
        program.close()
    expect(older.get_by_text(f'Signed in as {browser.name}')).to_be_visible()
    fresh = browser.context.new_page()
    fresh.goto(vc_server.url + '/login?switch=1')
    expect(fresh.get_by_role('button', name=f'Continue as {browser.name}')).to_be_visible()
    assert 'Rejected socket handshake' not in vc_server.log_text()


@pytest.mark.parametrize('vc_settings', [{'SESSION_MAX_AGE_S': 8}], indirect=True)
def test_a_session_ends_at_its_maximum_age_on_its_tab_and_its_program_socket(
    vc_server: AppServer, browser: Person
) -> None:
    """Before the fix sessions lived forever (no such setting: the tab stayed signed in)."""
    sign_up(browser.page, vc_server.url, browser.name, browser.password)
    program = ProgramSocket(vc_server, token_of(vc_server, browser.name, browser.password))
    try:
        expect(browser.page.get_by_text('Your session expired. Please sign in again.')).to_be_visible(timeout=20_000)
        expect(browser.page.get_by_label('Username')).to_be_visible()
        wait_until(
            lambda: program.of('signed_out') == [{'reason': 'session_expired'}],
            lambda: f'the program is told: {program.received}',
        )
        wait_until(lambda: not program.connected, 'the program socket is closed')
        vc_server.wait_for_log(f'👋 User disconnected: {browser.name} (session expired)')
    finally:
        program.close()


@pytest.mark.parametrize('vc_settings', [{'BEHIND_TLS_PROXY': 'true'}], indirect=True)
def test_behind_a_tls_proxy_the_cookie_is_secure_host_prefixed_and_hsts_is_sent(vc_server: AppServer) -> None:
    """The test is the TLS proxy here: it talks plain HTTP to the app. Before the fix the cookie was `session`
    without Secure and no HSTS was sent (only SSL_CERTFILE made them)."""
    with httpx.Client(base_url=vc_server.url, trust_env=False) as http:
        page = http.get('/login', headers={'X-Forwarded-Proto': 'https'})
    cookie = page.headers['set-cookie']
    assert cookie.startswith('__Host-session=')
    flags = {part.strip().split('=')[0].lower() for part in cookie.split(';')[1:]}
    assert {'path', 'secure', 'httponly', 'samesite', 'max-age'} <= flags and 'domain' not in flags
    assert '; path=/;' in cookie
    assert page.headers['strict-transport-security'] == 'max-age=31536000'


def test_by_default_on_plain_http_the_cookie_is_not_secure_and_no_hsts_is_sent(vc_server: AppServer) -> None:
    """The control: on loopback without TLS a Secure or __Host- cookie would be dropped by the browser."""
    with httpx.Client(base_url=vc_server.url, trust_env=False) as http:
        page = http.get('/login')
    assert page.headers['set-cookie'].startswith('session=')
    assert 'secure' not in page.headers['set-cookie'].lower()
    assert 'strict-transport-security' not in page.headers


def private(path: Path) -> bool:
    return stat.S_IMODE(path.stat().st_mode) & 0o077 == 0


def test_session_tokens_and_password_hashes_are_in_files_only_their_owner_can_read(
    tmp_path: Path, playwright_sync: Playwright
) -> None:
    """Before the fix NiceGUI's storage files (a browser's session tokens) and the database were world-readable
    (0644 in a 0755 dir), also those an earlier version left behind."""
    data = tmp_path / 'data'
    (data / 'nicegui').mkdir(parents=True)
    left_behind = data / 'nicegui' / 'storage-user-from-an-earlier-version.json'
    left_behind.write_text(json.dumps({'accounts': {'someone': 'token-of-someone'}}))
    for path in (data, data / 'nicegui', left_behind):
        path.chmod(0o755 if path.is_dir() else 0o644)
    server = AppServer(PROJECT_DIR, data, tmp_path / 'server.log').start()
    person = launch_person(
        playwright_sync, 'files_' + secrets.token_hex(2), 440, tmp_path, 'pw-' + secrets.token_hex(6)
    )
    try:
        sign_up(person.page, server.url, person.name, person.password)
        storage = wait_until(
            lambda: [p for p in (data / 'nicegui').glob('storage-user-*.json') if person.name in p.read_text()],
            'a storage file holds the new session',
        )
        everything = [data, *data.rglob('*')]
        assert {p.name for p in everything} >= {'voiceconnect.db', 'storage_secret', 'nicegui', storage[0].name}
        assert [str(p.relative_to(tmp_path)) for p in everything if not private(p)] == []
    finally:
        person.close()
        server.stop()


# item 9: admin actions reach live sockets


def test_a_new_password_from_the_admin_command_ends_the_tab_and_the_program_socket_at_once(
    vc_server: AppServer, browser: Person
) -> None:
    """Before the fix `admin set-password` said the sessions were signed out, but an old socket still placed a
    call, and the tab stayed signed in."""
    bob, bob_password = vc_server.add_user()
    sign_up(browser.page, vc_server.url, browser.name, browser.password)
    program = ProgramSocket(vc_server, token_of(vc_server, browser.name, browser.password))
    callee = ProgramSocket(vc_server, token_of(vc_server, bob, bob_password))
    try:
        assert vc_server.admin('set-password', browser.name, password='a brand new password').startswith('Changed')
        placed = program.request('call_user', {'name': bob})
        assert 'call' not in placed, placed  # refused: the old session may not ring anyone
        assert callee.of('call') == []
        wait_until(lambda: program.of('signed_out') == [{'reason': 'revoked'}], 'the program socket is told', 5)
        wait_until(lambda: not program.connected, 'the program socket is closed', 5)
        expect(browser.page.get_by_text('You were signed out by the server')).to_be_visible(timeout=5_000)
        expect(browser.page.get_by_label('Username')).to_be_visible()
        assert get(vc_server, '/', {c['name']: c['value'] for c in browser.context.cookies()}).status_code == 307
        sign_in(browser.page, vc_server.url, browser.name, 'a brand new password')  # the new one works
    finally:
        program.close()
        callee.close()


def test_a_removed_name_made_again_inherits_neither_history_nor_do_not_disturb(
    vc_server: AppServer, browser: Person
) -> None:
    """Before the fix, `remove-user` then `add-user` of the name showed the old account's missed call, its
    recent calls and its do not disturb to the new account."""
    alice, alice_password = vc_server.add_user()
    sign_up(browser.page, vc_server.url, browser.name, browser.password)
    page = browser.page
    page.get_by_role('switch', name='Do not disturb').click()
    expect(page.get_by_role('switch', name='Do not disturb')).to_be_checked()
    caller = ProgramSocket(vc_server, token_of(vc_server, alice, alice_password))
    try:
        assert caller.request('call_user', {'name': browser.name})['call']['end_reason'] == 'do_not_disturb'
        expect(page.get_by_role('button', name='1 missed')).to_be_visible()

        vc_server.admin('remove-user', browser.name)
        expect(page.get_by_label('Username')).to_be_visible(timeout=5_000)  # signed out at once
        vc_server.admin('add-user', browser.name, password='the new owners password')
        sign_in(page, vc_server.url, browser.name, 'the new owners password')
        expect(page.get_by_text('No calls yet.')).to_be_visible()
        expect(page.get_by_role('button', name='1 missed')).to_be_hidden()
        expect(page.get_by_role('switch', name='Do not disturb')).not_to_be_checked()
        assert caller.request('call_user', {'name': browser.name})['call']['state'] == 'ringing'  # takes calls
    finally:
        caller.close()


# item 10: no lockout abuse

MALLORY, ALICE_HOME, ELSEWHERE = '203.0.113.66', '198.51.100.7', '192.0.2.44'


def test_a_strangers_wrong_passwords_do_not_lock_the_owner_out(vc_server: AppServer) -> None:
    """Before the fix five wrong passwords from anywhere locked the name for everyone: the owner's right password
    was refused with `Too many attempts`."""
    alice, password = vc_server.add_user()
    said = [open_session(vc_server, alice, f'guess {n}', MALLORY).json()['error'] for n in range(8)]
    assert said[:4] == ['Wrong username or password.'] * 4
    assert all(s.startswith('Too many attempts') for s in said[4:])  # mallory herself is stopped
    owner = open_session(vc_server, alice, password, ALICE_HOME)
    assert owner.status_code == 200, owner.text
    vc_server.wait_for_log(f'⚠️ Rate limited: sign-in failures for {alice} from {MALLORY}')


@pytest.mark.parametrize('vc_settings', [{'SIGNIN_ATTEMPTS_PER_MINUTE_PER_ADDRESS': 5}], indirect=True)
def test_successful_sign_ins_are_limited_per_address_too(vc_server: AppServer) -> None:
    """Each sign-in costs an argon2 check (~50 ms of CPU); before the fix successful ones were never limited, so
    one address with a valid password could keep a core busy (the default, 30 a minute, in test_accounts.py)."""
    alice, password = vc_server.add_user()
    started = time.monotonic()
    codes: list[int] = []
    while len(codes) < 10 and 401 not in codes:
        codes.append(open_session(vc_server, alice, password, MALLORY).status_code)
    elapsed = time.monotonic() - started
    assert codes[-1] == 401, codes
    assert 5 <= codes.count(200) <= 5 + elapsed / 12 + 1  # the burst of 5, then one every 12 s
    refused = open_session(vc_server, alice, password, MALLORY)
    assert refused.json()['error'].startswith('Too many attempts. Try again in ')
    assert open_session(vc_server, alice, password, ELSEWHERE).status_code == 200  # another address is its own
    vc_server.wait_for_log(f'⚠️ Rate limited: sign-in attempts from {MALLORY}')


@pytest.mark.parametrize('vc_settings', [{'SIGNIN_FAILURES_PER_HOUR_PER_NAME': 12}], indirect=True)
def test_guessing_from_many_addresses_is_slowed_but_the_owners_browser_still_signs_in(
    vc_server: AppServer, browser: Person
) -> None:
    """Distributed guessing: past the per-name ceiling a name is locked for browsers it never signed in on, not
    for the owner's own (the browser's storage knows the name signed in there)."""
    sign_up(browser.page, vc_server.url, browser.name, browser.password)
    browser.page.get_by_role('button', name='Log out').click()
    expect(browser.page.get_by_label('Username')).to_be_visible()
    said = [open_session(vc_server, browser.name, 'guess', f'203.0.113.{n}').status_code for n in range(12)]
    assert said == [401] * 12
    assert open_session(vc_server, browser.name, browser.password, ALICE_HOME).json()['error'].startswith('Too many')
    sign_in(browser.page, vc_server.url, browser.name, browser.password)


def test_no_file_in_the_data_dir_is_readable_by_others_after_an_admin_command(tmp_path: Path) -> None:
    """The admin command may be the first to make the database (password hashes): private too."""
    server = AppServer(PROJECT_DIR, tmp_path / 'data', tmp_path / 'log')
    server.add_user('first_user', 'a good password')
    files = [tmp_path / 'data', *(tmp_path / 'data').rglob('*')]
    assert 'voiceconnect.db' in {path.name for path in files}
    assert [str(path) for path in files if not private(path)] == []
