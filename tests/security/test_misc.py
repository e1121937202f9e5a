"""Issue 18 ("Nobody with curl can take it down"), against a real app process: page loads no browser follows cost
little and go quietly; no request writes a line of its own into the log; the README's coturn configuration is one
coturn reads, and it denies relaying into private networks.

Bounded: a few hundred requests, seconds each.
"""

import asyncio
import concurrent.futures
import ipaddress
import json
import re
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote

import httpx
import pytest
import socketio
from playwright.sync_api import Playwright

from voiceconnect.logs import MAX_MESSAGE
from voiceconnect.testing.browser import launch_person
from voiceconnect.testing.servers import PROJECT_DIR, AppServer
from voiceconnect.testing.waiting import wait_until

from .misc_helpers import coturn_log, gauge, get, last_headers, readme_block, rss_mb

T = TypeVar('T')

# --- page loads that no socket follows (item 2)

PAGES = {'PAGE_CONNECT_TIMEOUT_S': 3, 'UNCONNECTED_PAGES_MAX': 40, 'UNCONNECTED_PAGES_PER_ADDRESS': 20}
FLOOD = 300


@pytest.mark.parametrize('vc_settings', [PAGES], indirect=True)
def test_a_flood_of_page_loads_is_capped_per_address_and_in_all_and_lets_go_quietly(vc_server: AppServer) -> None:
    get(vc_server, '/login')  # warm up (first imports)
    before = rss_mb(vc_server)
    for _ in range(FLOOD // 2):  # one address floods: it pushes out only its own pages
        assert get(vc_server, '/login', source='127.0.0.9') == 200
    waiting_after_one_address = gauge(vc_server, 'voiceconnect_unconnected_pages')
    for n in range(FLOOD // 2):  # many addresses: the total stays bounded
        assert get(vc_server, '/login', source=f'127.0.{1 + n % 30}.{1 + n // 30}') == 200
    waiting_after_many = gauge(vc_server, 'voiceconnect_unconnected_pages')
    grown = rss_mb(vc_server) - before
    assert grown < 30, f'the server grew {grown:.0f} MB for {FLOOD} page loads (about 0.2 MB each if all are kept)'
    assert waiting_after_one_address is not None and waiting_after_many is not None
    assert waiting_after_one_address <= PAGES['UNCONNECTED_PAGES_PER_ADDRESS'] + 1
    assert waiting_after_many <= PAGES['UNCONNECTED_PAGES_MAX']
    wait_until(
        lambda: gauge(vc_server, 'voiceconnect_unconnected_pages') == 0,
        'pages that never connected were not let go after PAGE_CONNECT_TIMEOUT_S',
        timeout=PAGES['PAGE_CONNECT_TIMEOUT_S'] + 5,
    )
    log = vc_server.log_text()
    assert 'Traceback' not in log and 'can only be used with a client connection' not in log
    assert 'page(s) let go before their socket came' in log
    assert list(vc_server.data_dir.glob('nicegui/storage-user-*')) == []  # no browser stored anything: no file


@pytest.mark.parametrize('vc_settings', [PAGES], indirect=True)
def test_a_page_whose_socket_came_is_never_let_go_for_a_flood(
    vc_server: AppServer, playwright_sync: Playwright, tmp_path: Path
) -> None:
    person = launch_person(playwright_sync, 'reader', 440, tmp_path)
    try:
        page = person.page
        page.goto(vc_server.url + '/login')
        page.get_by_role('button', name='Sign in').wait_for()
        wait_until(lambda: page.evaluate('window.socket && window.socket.connected'), 'the page socket connected')
        page.evaluate('window.vcTestMarker = "still the same document"')
        for n in range(PAGES['UNCONNECTED_PAGES_MAX'] * 3):  # from everywhere: the total cap is reached twice over
            get(vc_server, '/login', source=f'127.0.{1 + n % 30}.{1 + n // 30}')
        page.get_by_label('Username').fill('nobody-here')
        page.get_by_label('Password').fill('not the password')
        page.get_by_role('button', name='Sign in').click()
        page.get_by_text('Wrong username or password.').wait_for()  # the server still answers this page
        assert page.evaluate('window.vcTestMarker') == 'still the same document'  # and it was never reloaded
    finally:
        person.close()


def test_a_made_up_api_path_builds_no_page(vc_server: AppServer) -> None:
    for n in range(20):
        assert get(vc_server, f'/api/nothing-{n}') == 404
        assert 'x-nicegui-content' not in last_headers(), 'a NiceGUI page was built for it'
    assert gauge(vc_server, 'voiceconnect_unconnected_pages') == 0


# --- the log tells the truth (item 3)

FORGED = '📴 Call ended: 45s (alice → bob, completed)'
# every character Python's str.splitlines() breaks a line at, and a terminal's escape
BREAKS = ['\n', '\r', '\r\n', '\x0b', '\x0c', '\x1c', '\x1d', '\x1e', '\x85', '\u2028', '\u2029', '\x1b[2K\r']


def in_a_thread(work: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine on an event loop of its own: this module's browser test holds the main thread's."""
    with concurrent.futures.ThreadPoolExecutor(1) as thread:
        return thread.submit(asyncio.run, work).result()


def forged_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.lstrip().startswith(FORGED)]


async def program_requests_with_hostile_field_names(server: AppServer) -> list[Any]:
    """A program signed in with a valid account sends requests whose extra field names forge a line or are huge."""
    name, password = server.add_user()
    async with httpx.AsyncClient(base_url=server.url) as http:
        token = (await http.post('/api/session', json={'name': name, 'password': password})).json()['token']
    answers = []
    hello = {'token': token, 'client_key': 'hostile-key-1'}
    refused = socketio.AsyncClient(reconnection=False)
    with pytest.raises(socketio.exceptions.ConnectionError):
        await refused.connect(
            server.url, namespaces=['/program'], socketio_path='_nicegui_ws/socket.io', transports=['websocket'],
            auth={**hello, '\n' + FORGED: 1}, wait_timeout=5,
        )  # fmt: skip
    sio = socketio.AsyncClient(reconnection=False)
    await sio.connect(
        server.url, namespaces=['/program'], socketio_path='_nicegui_ws/socket.io', transports=['websocket'],
        auth=hello, wait_timeout=5,
    )  # fmt: skip
    try:
        for brk in BREAKS:
            request = {'name': 'nobody', f'x{brk}{FORGED}': 1}
            answers.append(await sio.call('call_user', request, namespace='/program', timeout=5))
        answers.append(await sio.call('call_user', {'name': 'x', 'F' * 100_000: 1}, namespace='/program', timeout=5))
    finally:
        await sio.disconnect()
    return answers


@pytest.mark.parametrize(
    'vc_settings', [{'LOG_FORMAT': 'text'}, {'LOG_FORMAT': 'json'}], indirect=True, ids=['text', 'json']
)
def test_no_request_writes_a_line_of_its_own_into_the_log(vc_server: AppServer, vc_settings: Any) -> None:
    mark = vc_server.log_mark()
    for brk in BREAKS:  # NiceGUI logs the URL of a page it cannot find; the request, then every line break
        assert get(vc_server, '/api/x' + quote(brk + FORGED)) == 404
        assert get(vc_server, '/login/x' + quote(brk + FORGED)) == 404
    assert get(vc_server, '/login/' + 'A' * 6000) == 404  # a long URL
    answers = in_a_thread(program_requests_with_hostile_field_names(vc_server))
    vc_server.wait_for_log('Rejected program request', since=mark)
    text = vc_server.log_text()[mark:]
    assert forged_lines(text) == []
    assert all(set(answer) == {'error', 'code'} and '\n' not in answer['error'] for answer in answers), answers
    assert all(len(answer['error']) < 300 for answer in answers)
    assert text.count('not found') >= len(BREAKS), 'NiceGUI logged its 404 lines (this test is not vacuous)'
    assert re.search(r'/login/A{100}.*… \[\d+ more characters\]', text), 'the long URL was logged, cut'
    assert 'Traceback' not in text
    for line in text.splitlines():
        message = json.loads(line)['message'] if vc_settings['LOG_FORMAT'] == 'json' else line
        assert len(message) <= MAX_MESSAGE + 40, f'a line of {len(message)} characters'
    rejected = [line for line in text.splitlines() if 'Rejected program request' in line]
    assert len(rejected) == len(BREAKS) + 1
    assert any("'x\\\\n📴 Call ended" in line or "'x\\n📴 Call ended" in line for line in rejected), rejected


# --- the README's coturn configuration (item 14)

TURN_CONFIG_HEADING = 'coturn (Debian `coturn`), `/etc/turnserver.conf`:\n'
MUST_BE_DENIED = [
    '10.1.2.3', '172.16.0.1', '192.168.1.1', '127.0.0.1', '169.254.169.254', '100.64.0.1', '0.0.0.0', '::1',
    '::ffff:10.0.0.1', 'fd00::1', 'fe80::1', '64:ff9b::a00:1', '2002:a00:1::1', '198.18.0.1', '240.0.0.1',
]  # fmt: skip


Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def denied_ranges(config: str) -> list[tuple[Address, Address]]:
    ranges = []
    for value in re.findall(r'^denied-peer-ip=(\S+)$', config, re.MULTILINE):
        first, _, last = value.partition('-')
        ranges.append((ipaddress.ip_address(first), ipaddress.ip_address(last or first)))
    return ranges


def _within(address: Address, first: Address, last: Address) -> bool:
    if isinstance(address, ipaddress.IPv4Address):
        return (
            isinstance(first, ipaddress.IPv4Address)
            and isinstance(last, ipaddress.IPv4Address)
            and first <= address <= last
        )
    return (
        isinstance(first, ipaddress.IPv6Address)
        and isinstance(last, ipaddress.IPv6Address)
        and first <= address <= last
    )


def test_the_readmes_coturn_config_is_read_by_coturn_and_denies_private_and_reserved_peers(tmp_path: Path) -> None:
    config = readme_block(PROJECT_DIR / 'README.md', TURN_CONFIG_HEADING)
    ranges = denied_ranges(config)
    for address in map(ipaddress.ip_address, MUST_BE_DENIED):
        assert any(_within(address, first, last) for first, last in ranges), address
    for option in ('no-tcp-relay', 'no-multicast-peers', 'user-quota=', 'total-quota='):
        assert re.search(rf'^{option}', config, re.MULTILINE), option
    log = coturn_log(config, tmp_path)
    problems = [line for line in log.splitlines() if re.search(r'Bad configuration|ERROR|Wrong|Unknown', line)]
    assert problems == []
    assert '--no-tcp-relay: TCP relay endpoints are not allowed' in log
